//! The MySQL wire protocol, as far as OceanBase's clients use it.

pub mod encode;
pub mod packet;
pub mod params;
pub mod server;

use std::sync::Arc;

use tokio::{net::TcpListener, sync::watch};

use crate::sim::{Node, Simulator};

/// Accepts connections for the node's cluster until the listener fails or `closed`'s sender is dropped;
/// then the listener closes, and so does every connection accepted here. While the node refuses
/// connections, each new one is closed at once (as a client sees a cluster it cannot reach).
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    simulator: Arc<Simulator>,
    mut closed: watch::Receiver<()>,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = closed.changed() => return Ok(()),
        };
        if node.link.refusing() {
            node.link.count_refused();
            drop(stream);
            continue;
        }
        node.link.count_accepted();
        let node = node.clone();
        let simulator = simulator.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let mut drops = node.link.drops();
            tokio::select! {
                ended = server::serve_connection(stream, node.cluster.clone(), simulator, node.tls.clone(), node.link.served()) => {
                    if let Err(error) = ended {
                        tracing::debug!(%peer, %error, "connection ended");
                    }
                }
                _ = drops.changed() => tracing::debug!(%peer, "connection dropped by the control API"),
                _ = closed.changed() => tracing::debug!(%peer, "connection dropped with its listener"),
            }
        });
    }
}
