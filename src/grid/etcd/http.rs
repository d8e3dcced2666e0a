//! A small HTTP/1.1 client for etcd's JSON gateway: one POST per connection, its answer read
//! whole (by length or chunked), or — for a watch — read as a stream of JSON lines.
//!
//! Errors say whether the request can have been applied: a connection or a write that
//! failed reached nothing; once the request is written, a missing or broken answer means
//! it may have been applied.

use bytes::{Buf, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Transport;

/// How a call to the gateway failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CallError {
    /// The request was not written: nothing was applied.
    Unreachable(String),
    /// The request was written but its answer is missing or broken: it may have been
    /// applied.
    NoAnswer(String),
    /// etcd answered with an error: its gRPC code and message.
    Server { code: u64, message: String },
}

/// The longest answer head accepted.
const MAX_HEAD: usize = 16 << 10;
/// The longest answer body or stream line accepted.
const MAX_BODY: usize = 64 << 20;

/// A connection's reader: what came in but was not used yet.
pub(super) struct Answer<S> {
    stream: S,
    buffered: BytesMut,
    chunked: bool,
    /// Bytes left in the current chunk, or in the body when not chunked.
    left: usize,
    done: bool,
}

/// Sends `POST path` with `body` to the gateway at `address`, and reads its answer's head.
pub(super) async fn post<T: Transport>(
    transport: &T,
    address: &str,
    path: &str,
    body: &Value,
) -> Result<Answer<T::Stream>, CallError> {
    let mut stream = transport
        .connect(address)
        .await
        .map_err(|e| CallError::Unreachable(e.to_string()))?;
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let written = stream.write_all(request.as_bytes()).await;
    written.map_err(|e| CallError::Unreachable(e.to_string()))?;
    let mut answer = Answer {
        stream,
        buffered: BytesMut::new(),
        chunked: false,
        left: 0,
        done: false,
    };
    answer.head().await?;
    Ok(answer)
}

/// `POST path` and its whole answer as JSON; an error status becomes [`CallError::Server`].
pub(super) async fn call<T: Transport>(
    transport: &T,
    address: &str,
    path: &str,
    body: &Value,
) -> Result<Value, CallError> {
    let mut answer = post(transport, address, path, body).await?;
    let mut whole = Vec::new();
    while let Some(part) = answer.next_data().await? {
        whole.extend_from_slice(&part);
        if whole.len() > MAX_BODY {
            return Err(CallError::NoAnswer("an answer over the size limit".into()));
        }
    }
    let value: Value =
        serde_json::from_slice(&whole).map_err(|e| CallError::NoAnswer(e.to_string()))?;
    server_error(&value).map_or(Ok(value), Err)
}

/// The error an answer carries, if it is one (`{"error", "code", "message"}`).
pub(super) fn server_error(value: &Value) -> Option<CallError> {
    let code = value.get("code")?.as_u64()?;
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    value.get("error").map(|_| CallError::Server {
        code,
        message: message.to_string(),
    })
}

impl<S: crate::net::Stream> Answer<S> {
    async fn fill(&mut self) -> Result<(), CallError> {
        let read = self.stream.read_buf(&mut self.buffered).await;
        match read.map_err(|e| CallError::NoAnswer(e.to_string()))? {
            0 => Err(CallError::NoAnswer(
                "the gateway closed the connection".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Reads the status line and headers.
    async fn head(&mut self) -> Result<(), CallError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffered) {
                Ok(httparse::Status::Complete(head)) => {
                    let header = |name: &str| {
                        let found = response
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name));
                        found
                            .and_then(|h| std::str::from_utf8(h.value).ok())
                            .map(str::trim)
                    };
                    self.chunked = header("transfer-encoding")
                        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
                    let length = header("content-length").and_then(|v| v.parse().ok());
                    self.left = length.unwrap_or(0);
                    self.done = !self.chunked && length.is_none_or(|l| l == 0);
                    self.buffered.advance(head);
                    return Ok(());
                }
                Ok(httparse::Status::Partial) if self.buffered.len() < MAX_HEAD => {
                    self.fill().await?
                }
                Ok(httparse::Status::Partial) => {
                    return Err(CallError::NoAnswer(
                        "an answer head over the size limit".into(),
                    ))
                }
                Err(e) => return Err(CallError::NoAnswer(e.to_string())),
            }
        }
    }

    /// The next piece of the body; `None` at its end.
    pub(super) async fn next_data(&mut self) -> Result<Option<Vec<u8>>, CallError> {
        if self.done {
            return Ok(None);
        }
        if self.chunked && self.left == 0 {
            let size = self.line().await?;
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|e| CallError::NoAnswer(e.to_string()))?;
            if size == 0 {
                self.done = true;
                return Ok(None);
            }
            self.left = size + 2;
        }
        if self.buffered.is_empty() {
            self.fill().await?;
        }
        let take = self.left.min(self.buffered.len());
        let mut part = self.buffered.split_to(take).to_vec();
        self.left -= take;
        if self.chunked {
            let trailer = 2usize.saturating_sub(self.left);
            part.truncate(part.len().saturating_sub(trailer));
        } else if self.left == 0 {
            self.done = true;
        }
        Ok(Some(part))
    }

    /// A CRLF-terminated line of the chunk framing.
    async fn line(&mut self) -> Result<String, CallError> {
        loop {
            if let Some(end) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                let line = self.buffered.split_to(end + 2);
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.buffered.len() > MAX_HEAD {
                return Err(CallError::NoAnswer(
                    "a chunk size line over the size limit".into(),
                ));
            }
            self.fill().await?;
        }
    }
}
