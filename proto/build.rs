fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=seatline/reservation.proto");
    prost_build::Config::new()
        // JSON payloads: readable in the Temporal UI, tolerant of added fields.
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .type_attribute(".", "#[serde(default)]")
        .compile_protos(&["seatline/reservation.proto"], &["."])?;
    Ok(())
}
