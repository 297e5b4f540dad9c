//! A TCP proxy between a server and its PostgreSQL that a test can cut the way a network
//! does: bytes stop flowing (a partition) without either side being told, and flow again
//! when it heals; or only the answers stop, right after the server has sent a `COMMIT`, so
//! the commit happens and its answer is lost.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Both,
    /// Nothing, either way; held bytes are delivered once it heals.
    Neither,
    /// Requests go on, answers are held.
    RequestsOnly,
    /// Both ways until the server sends a `COMMIT`; answers are held from then on.
    UntilCommit,
}

pub struct Proxy {
    /// `postgres://…` through the proxy to the database `url` names.
    pub url: String,
    flow: Arc<watch::Sender<Flow>>,
}

impl Proxy {
    /// A proxy on a free port to the server of `url` (`postgres://user@host:port/db`).
    pub async fn start(url: &str) -> Proxy {
        let (head, database) = url.rsplit_once('/').unwrap();
        let (user, upstream) = head
            .trim_start_matches("postgres://")
            .split_once('@')
            .unwrap();
        let upstream = upstream.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let flow = Arc::new(watch::channel(Flow::Both).0);
        let shared = flow.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(
                    client_read,
                    server_write,
                    shared.clone(),
                    Way::Requests,
                ));
                tokio::spawn(pump(
                    server_read,
                    client_write,
                    shared.clone(),
                    Way::Answers,
                ));
            }
        });
        Proxy {
            url: format!("postgres://{user}@127.0.0.1:{port}/{database}"),
            flow,
        }
    }

    pub fn set(&self, flow: Flow) {
        self.flow.send_replace(flow);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Requests,
    Answers,
}

impl Flow {
    fn lets(self, way: Way) -> bool {
        match self {
            Flow::Both | Flow::UntilCommit => true,
            Flow::Neither => false,
            Flow::RequestsOnly => way == Way::Requests,
        }
    }
}

/// Copies one way, holding each chunk until the flow lets it through.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    flow: Arc<watch::Sender<Flow>>,
    way: Way,
) {
    let mut chunk = vec![0; 64 * 1024];
    let mut open = flow.subscribe();
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if open.wait_for(|f| f.lets(way)).await.is_err() {
            return;
        }
        if way == Way::Requests
            && *flow.borrow() == Flow::UntilCommit
            && chunk[..n].windows(6).any(|w| w == b"COMMIT")
        {
            flow.send_replace(Flow::RequestsOnly);
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}
