//! `make dev`'s GitHub: serves `DIR/public_keys.json` (written by `overten-admin github keys`) at
//! `http://127.0.0.1:$GITHUB_KEYS_PORT/meta/public_keys/secret_scanning`, refusing what GitHub
//! refuses (see the library). `GITHUB_STAND_IN_TOKEN`, when set, is the one token it accepts.
//!
//! Usage: github-keys DIR

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: github-keys DIR")?;
    let port: u16 = std::env::var("GITHUB_KEYS_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9480);
    let token = std::env::var("GITHUB_STAND_IN_TOKEN").ok().filter(|t| !t.trim().is_empty());
    let document = github_keys::Document::File(std::path::Path::new(&dir).join("public_keys.json"));
    let server = github_keys::GithubKeys::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), document, token).await?;
    eprintln!("github-keys: serving {}", server.url);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
