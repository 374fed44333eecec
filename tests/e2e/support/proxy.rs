//! A loopback TCP proxy in front of the kube-apiserver that a test can cut, to simulate an API outage for
//! one client without stopping the shared control plane.

use std::net::SocketAddr;

use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// Forwards every connection to `upstream` until cut; after that it behaves like a network partition:
/// open connections go silent and new ones are accepted but never answered.
pub struct CuttableProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    cut: CancellationToken,
    acceptor: JoinHandle<()>,
}

impl CuttableProxy {
    /// Starts forwarding 127.0.0.1:<free port> to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = CancellationToken::new();
        let token = cut.clone();
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let token = token.clone();
                connections.spawn(async move {
                    if token.is_cancelled() {
                        // Hold the connection open and say nothing, until the proxy is dropped.
                        std::future::pending::<()>().await;
                    }
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        () = token.cancelled() => std::future::pending::<()>().await,
                    }
                    drop(client);
                });
            }
        });
        Self {
            addr,
            cut,
            acceptor,
        }
    }

    /// From now on, nothing gets through in either direction.
    pub fn cut(&self) {
        self.cut.cancel();
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}
