//! The gateway's HTTP/1.1 server, small on purpose: it reads each request head with `httparse`,
//! which keeps header names as the client wrote them (API Gateway passes the client's casing to
//! the functions; hyper's server lowercases names and keeps the original casing private), and
//! writes each response in one piece, with keep-alive.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{Gateway, GatewayRequest, GatewayResponse, log};

/// Largest request head accepted, as API Gateway's limit on headers is about 10 KB.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body accepted: API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
const MAX_HEADERS: usize = 128;

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let gateway = Arc::clone(&gateway);
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &gateway).await {
                log(&format!("connection from {peer}: {e}"));
            }
        });
    }
}

/// A request head, parsed.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// Where the body starts in the buffer.
    length: usize,
    keep_alive: bool,
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    gateway: &Gateway,
) -> std::io::Result<()> {
    // Each response is written in one piece; without this, Nagle's algorithm meets the client's
    // delayed ACK on keep-alive connections and adds 40 ms to every request.
    stream.set_nodelay(true)?;
    let mut buffer: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let head = loop {
            match parse_head(&buffer) {
                Ok(Some(head)) => break head,
                Ok(None) if buffer.len() > MAX_HEAD_BYTES => {
                    return reply(&mut stream, &plain(431, "request head too large"), false).await;
                }
                Ok(None) => {
                    if read_more(&mut stream, &mut buffer).await? == 0 {
                        return Ok(());
                    }
                }
                Err(why) => return reply(&mut stream, &plain(400, why), false).await,
            }
        };
        let body_length = match body_length(&head.headers) {
            Ok(n) if n <= MAX_BODY_BYTES => n,
            Ok(_) => return reply(&mut stream, &plain(413, "request body too large"), false).await,
            Err(why) => return reply(&mut stream, &plain(400, why), false).await,
        };
        while buffer.len() < head.length + body_length {
            if read_more(&mut stream, &mut buffer).await? == 0 {
                return Ok(());
            }
        }
        let body = buffer
            .get(head.length..head.length + body_length)
            .unwrap_or_default()
            .to_vec();
        buffer.drain(..head.length + body_length);
        let (path, query) = split_target(&head.target);
        let response = gateway
            .handle(GatewayRequest {
                method: head.method,
                path,
                query,
                headers: head.headers,
                body,
                source_ip: Some(peer.ip()),
            })
            .await;
        reply(&mut stream, &response, head.keep_alive).await?;
        if !head.keep_alive {
            return Ok(());
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n)
}

/// The head at the start of `buffer`, `None` while it is incomplete.
fn parse_head(buffer: &[u8]) -> Result<Option<Head>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let length = match request.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("malformed request"),
    };
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let connection = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .map(|(_, v)| v.to_ascii_lowercase());
    let keep_alive = match request.version {
        Some(1) => connection.as_deref() != Some("close"),
        _ => connection.as_deref() == Some("keep-alive"),
    };
    Ok(Some(Head {
        method: request.method.unwrap_or_default().to_owned(),
        target: request.path.unwrap_or_default().to_owned(),
        headers,
        length,
        keep_alive,
    }))
}

fn body_length(headers: &[(String, String)]) -> Result<usize, &'static str> {
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err("chunked request bodies are not supported here: send Content-Length");
    }
    match headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        None => Ok(0),
        Some((_, v)) => v.trim().parse().map_err(|_| "malformed Content-Length"),
    }
}

/// The path and the query string's name-value pairs of a request target.
fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    (path.to_owned(), pairs)
}

fn plain(status: u16, message: &str) -> GatewayResponse {
    GatewayResponse::json(status, serde_json::json!({ "message": message }))
}

async fn reply(
    stream: &mut TcpStream,
    response: &GatewayResponse,
    keep_alive: bool,
) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        let hop_by_hop = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !hop_by_hop && !name.contains(['\r', '\n']) && !value.contains(['\r', '\n']) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("content-length: {}\r\n", response.body.len()));
    if !keep_alive {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response.body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_keeps_the_clients_header_casing() {
        let raw = b"GET /prod/x?a=1&b HTTP/1.1\r\nHost: h\r\nX-Custom-Thing: v\r\nauthorization: t\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.length, raw.len());
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Host", "X-Custom-Thing", "authorization"]);
        assert!(head.keep_alive);
        let (path, query) = split_target(&head.target);
        assert_eq!(path, "/prod/x");
        assert_eq!(
            query,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new())
            ]
        );
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost").unwrap().is_none());
        assert!(parse_head(b"\x01\x02 nonsense\r\n\r\n").is_err());
    }
}
