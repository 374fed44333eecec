//! The MySQL wire protocol, as far as OceanBase's clients use it.

pub mod encode;
pub mod packet;
pub mod params;
pub mod server;

use tokio::net::TcpListener;

use crate::engine::SharedCluster;

/// Accepts connections for `cluster` until the listener fails.
pub async fn serve(listener: TcpListener, cluster: SharedCluster) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let cluster = cluster.clone();
        tokio::spawn(async move {
            if let Err(error) = server::serve_connection(stream, cluster).await {
                tracing::debug!(%peer, %error, "connection ended");
            }
        });
    }
}
