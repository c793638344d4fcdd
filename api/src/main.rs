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
            let pool = seatline_storage::connect(&settings.database.url, 2).await?;
            seatline_storage::migrate(&pool).await?;
            seatline_storage::demo::seed_demo(&pool).await?;
            tracing::info!("demo data ready");
            Ok(())
        }
        // `seatline-api grant-role EMAIL ROLE`: an operator makes an account organizer,
        // operator, door staff (or buyer again); it applies from the account's next login.
        Some("grant-role") => {
            let mut args = std::env::args().skip(2);
            let (Some(email), Some(role)) = (args.next(), args.next()) else {
                anyhow::bail!("usage: seatline-api grant-role EMAIL buyer|organizer|operator|door");
            };
            let email = seatline_domain::Email::parse(&email)?;
            let role: seatline_domain::Role = role.parse()?;
            let pool = seatline_storage::connect(&settings.database.url, 1).await?;
            if !seatline_storage::accounts::set_role(&pool, &email, role).await? {
                anyhow::bail!("no account has the email {email}");
            }
            tracing::info!(%email, %role, "role granted");
            Ok(())
        }
        None | Some("serve") => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await
        }
        Some(other) => {
            anyhow::bail!("unknown command '{other}': use `serve`, `seed` or `grant-role`")
        }
    }
}
