//! The floor for `bench/serve.sh`: a bare axum server that answers every GET with the
//! bytes of one file, as `portreg serve` would send them, and does nothing else.
//! Usage: floor ADDRESS FILE

use axum::http::header;
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: floor ADDRESS FILE");
        std::process::exit(2);
    };
    let body: &'static [u8] = Box::leak(std::fs::read(file)?.into_boxed_slice());
    let answer = move || async move { ([(header::CONTENT_TYPE, "application/json")], body) };
    let app = Router::new().fallback(get(answer));
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await
}
