//! A minimal Redis client (RESP over a tokio `TcpStream`), just enough for the peer's store:
//! checking that Redis answers before the peer starts, and deleting one run's keys (SCAN by
//! prefix, DEL) after it stops.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where Redis is looked for, unless `FERRIAM_BENCH_REDIS` (host:port) says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:6379";
/// The longest any exchange with Redis may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How many keys one SCAN step asks for.
const SCAN_COUNT: &str = "1000";

/// The Redis address the peer's store uses (host:port).
pub fn addr() -> String {
    std::env::var("FERRIAM_BENCH_REDIS").unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
}

/// One RESP reply.
#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// A connection to Redis.
pub struct Redis {
    stream: BufReader<TcpStream>,
}

impl Redis {
    /// Connects and checks with PING that a Redis server answers.
    pub async fn connect(addr: &str) -> Result<Self> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("no answer from {addr} within {TIMEOUT:?}"))?
            .with_context(|| format!("cannot connect to Redis at {addr}"))?;
        let mut redis = Self {
            stream: BufReader::new(stream),
        };
        match redis.command(&["PING"]).await? {
            Reply::Simple(pong) if pong == "PONG" => Ok(redis),
            other => bail!("{addr} answered PING with {other:?}"),
        }
    }

    /// Deletes every key starting with `prefix` (which must hold no glob characters) and
    /// returns how many there were.
    pub async fn delete_prefix(&mut self, prefix: &str) -> Result<usize> {
        let pattern = format!("{prefix}*");
        let mut cursor = "0".to_owned();
        let mut deleted = 0;
        loop {
            let reply = self
                .command(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", SCAN_COUNT])
                .await?;
            let (next, keys) = scan_page(reply)?;
            if !keys.is_empty() {
                let mut args = vec!["DEL"];
                args.extend(keys.iter().map(String::as_str));
                if let Reply::Integer(n) = self.command(&args).await? {
                    deleted += usize::try_from(n).unwrap_or(0);
                }
            }
            if next == "0" {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Sends one command and reads its reply; an error reply becomes an error.
    async fn command(&mut self, args: &[&str]) -> Result<Reply> {
        let exchange = async {
            self.stream.get_mut().write_all(&encode(args)).await?;
            read_reply(&mut self.stream).await
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| anyhow!("Redis did not answer {} within {TIMEOUT:?}", args[0]))?
    }
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// SCAN's reply: the next cursor and this page's keys.
fn scan_page(reply: Reply) -> Result<(String, Vec<String>)> {
    let text = |r: Reply| match r {
        Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        other => Err(anyhow!("unexpected SCAN element {other:?}")),
    };
    let Reply::Array(mut parts) = reply else {
        bail!("SCAN did not answer with an array");
    };
    if parts.len() != 2 {
        bail!("SCAN answered with {} elements", parts.len());
    }
    let keys = match parts.pop() {
        Some(Reply::Array(keys)) => keys.into_iter().map(text).collect::<Result<_>>()?,
        other => bail!("unexpected SCAN keys {other:?}"),
    };
    let cursor = parts
        .pop()
        .map(text)
        .ok_or_else(|| anyhow!("SCAN gave no cursor"))??;
    Ok((cursor, keys))
}

/// Reads one reply (boxed, as arrays nest).
fn read_reply<'a, R>(reader: &'a mut R) -> Pin<Box<dyn Future<Output = Result<Reply>> + Send + 'a>>
where
    R: tokio::io::AsyncBufRead + Unpin + Send,
{
    Box::pin(async move {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).await?;
        let line = line
            .strip_suffix(b"\r\n")
            .ok_or_else(|| anyhow!("Redis closed the connection"))?;
        let (kind, rest) = line
            .split_first()
            .ok_or_else(|| anyhow!("empty RESP line"))?;
        let rest = String::from_utf8_lossy(rest).into_owned();
        let number = || {
            rest.parse::<i64>()
                .with_context(|| format!("bad RESP length {rest:?}"))
        };
        match kind {
            b'+' => Ok(Reply::Simple(rest)),
            b'-' => bail!("Redis: {rest}"),
            b':' => Ok(Reply::Integer(number()?)),
            b'$' => match usize::try_from(number()?) {
                Ok(len) => {
                    let mut data = vec![0; len + 2];
                    reader.read_exact(&mut data).await?;
                    data.truncate(len);
                    Ok(Reply::Bulk(Some(data)))
                }
                Err(_) => Ok(Reply::Bulk(None)),
            },
            b'*' => {
                let mut items = Vec::new();
                for _ in 0..number()?.max(0) {
                    items.push(read_reply(reader).await?);
                }
                Ok(Reply::Array(items))
            }
            other => bail!("unexpected RESP type {:?}", char::from(*other)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        assert_eq!(
            encode(&["DEL", "a:b"]),
            b"*2\r\n$3\r\nDEL\r\n$3\r\na:b\r\n".to_vec()
        );
    }

    #[tokio::test]
    async fn reads_a_scan_page() {
        let mut input: &[u8] = b"*2\r\n$2\r\n17\r\n*2\r\n$3\r\np:a\r\n$3\r\np:b\r\n";
        let reply = read_reply(&mut input).await.unwrap();
        let (cursor, keys) = scan_page(reply).unwrap();
        assert_eq!(cursor, "17");
        assert_eq!(keys, ["p:a", "p:b"]);
    }

    #[tokio::test]
    async fn reads_errors_and_nulls() {
        let mut input: &[u8] = b"-ERR unknown\r\n$-1\r\n:3\r\n";
        assert!(read_reply(&mut input).await.is_err());
        assert_eq!(read_reply(&mut input).await.unwrap(), Reply::Bulk(None));
        assert_eq!(read_reply(&mut input).await.unwrap(), Reply::Integer(3));
    }
}
