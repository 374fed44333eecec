//! The MySQL wire protocol, as far as OceanBase's clients use it.

pub mod encode;
pub mod packet;
pub mod params;
pub mod server;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::sim::{Node, Simulator};

/// Accepts connections for the node's cluster until the listener fails. While the node refuses
/// connections, each new one is closed at once (as a client sees a cluster it cannot reach).
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    simulator: Arc<Simulator>,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        if node.link.refusing() {
            drop(stream);
            continue;
        }
        let node = node.clone();
        let simulator = simulator.clone();
        tokio::spawn(async move {
            let mut drops = node.link.drops();
            tokio::select! {
                ended = server::serve_connection(stream, node.cluster.clone(), simulator, node.tls.clone()) => {
                    if let Err(error) = ended {
                        tracing::debug!(%peer, %error, "connection ended");
                    }
                }
                _ = drops.changed() => tracing::debug!(%peer, "connection dropped by the control API"),
            }
        });
    }
}
