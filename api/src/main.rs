use seatline_api::Application;
use seatline_config::Settings;

// Requests allocate many small short-lived buffers; mimalloc serves them with less
// contention and fragmentation than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    seatline_config::init_tracing("info,temporalio_sdk_core=warn,sqlx=warn");
    let settings = Settings::from_env()?;
    match std::env::args().nth(1).as_deref() {
        // `seatline-api seed`: migrations and the demo data, then exit.
        Some("seed") => {
            let pool = seatline_storage::connect(&settings.database_url, 2).await?;
            seatline_storage::migrate(&pool).await?;
            seatline_storage::demo::seed_demo(&pool).await?;
            tracing::info!("demo data ready");
            Ok(())
        }
        None | Some("serve") => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await
        }
        Some(other) => anyhow::bail!("unknown command '{other}': use `serve` or `seed`"),
    }
}
