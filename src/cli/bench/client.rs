//! The load generator's HTTP client: a keep-alive HTTP/1.1 connection (hyper's connection
//! API), driven by the very task that sends on it.
//!
//! A pooled client (reqwest) hands each request to a task of the connection's and the answer
//! back, and parses a URL for each: two wake-ups and a parse per request, which made up a
//! third of the load generator's CPU. On a machine of two cores the load generator takes its
//! CPU from the server under test, so what it spends shows up as the server's slowness.

use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One connection to the server under test.
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// What moves a connection's bytes: polled by [`alongside`], in the task that sends.
pub type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// An answer: its status and its whole body.
pub type Answer = (StatusCode, Bytes);

impl Connection {
    /// Connects to `authority` (`host:port`).
    pub async fn open(authority: &str) -> anyhow::Result<(Connection, Driver)> {
        let host = HeaderValue::from_str(authority)?;
        let stream = TcpStream::connect(authority).await?;
        // Requests are small and each waits for its answer: Nagle would only delay them.
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
        Ok((Connection { sender, host }, driver))
    }

    /// Whether the connection can take no more requests (the server closed it, or it failed).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    pub async fn get(&mut self, path: &str) -> Result<Answer, hyper::Error> {
        self.send(Method::GET, path, None, Bytes::new()).await
    }

    /// POSTs `body` (JSON) as the holder of `bearer` (`Bearer …`).
    pub async fn post(
        &mut self,
        path: &str,
        bearer: &HeaderValue,
        body: Vec<u8>,
    ) -> Result<Answer, hyper::Error> {
        self.send(Method::POST, path, Some(bearer), body.into())
            .await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&HeaderValue>,
        body: Bytes,
    ) -> Result<Answer, hyper::Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(bearer) = bearer {
            request = request
                .header(AUTHORIZATION, bearer.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(body))
            .expect("a path and headers that are valid");
        self.sender.ready().await?;
        let answer = self.sender.send_request(request).await?;
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Runs `work`, which sends on the connection `driver` moves, polling both in this task; an
/// error if the connection ends before `work` does.
pub async fn alongside<T>(driver: Driver, work: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::select! {
        biased;
        out = work => Ok(out),
        ended = driver => match ended {
            Ok(()) => anyhow::bail!("the server closed the connection"),
            Err(e) => Err(e.into()),
        },
    }
}
