//! The SMTP sink of the email-code sign-in: a small SMTP server on 127.0.0.1 that Ferriam's
//! `[email]` settings point at. It speaks what lettre's pooled transport uses (EHLO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT), reads the one-time code out of each message and hands it to the
//! [`Mailbox`] of its recipient, where the sign-in that asked for it waits. Each virtual user
//! has an address of its own, so concurrent sign-ins never take each other's codes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where each recipient's codes go, by lower-case address.
type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>;

/// A running sink; its listener stops when dropped.
pub struct Sink {
    pub port: u16,
    routes: Routes,
    /// Messages that carried no code or went to an address without a mailbox.
    unrouted: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl Sink {
    /// Listens on an ephemeral loopback port. `client_name` is the client's name as the
    /// default template writes it: "Your sign-in code for CLIENT is CODE".
    pub async fn start(client_name: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the SMTP sink")?;
        let port = listener.local_addr()?.port();
        let routes: Routes = Arc::default();
        let unrouted = Arc::new(AtomicU64::new(0));
        let marker: Arc<str> = format!("for {client_name} is ").into();
        let (r, u) = (routes.clone(), unrouted.clone());
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (routes, unrouted, marker) = (r.clone(), u.clone(), marker.clone());
                tokio::spawn(async move {
                    let _ = converse(socket, &routes, &unrouted, &marker).await;
                });
            }
        });
        Ok(Self {
            port,
            routes,
            unrouted,
            accept,
        })
    }

    /// The `[email]` `smtp_url` of this sink (no TLS, no credentials: loopback only).
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// A new mailbox for `address`, replacing any earlier one (whose codes are dropped).
    pub fn mailbox(&self, address: &str) -> Result<Mailbox> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes
            .lock()
            .map_err(|_| anyhow!("the sink's routes are poisoned"))?
            .insert(address.to_ascii_lowercase(), tx);
        Ok(Mailbox {
            address: address.to_owned(),
            rx,
        })
    }

    /// How many messages could not be handed to a mailbox so far.
    pub fn unrouted(&self) -> u64 {
        self.unrouted.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The codes sent to one address.
pub struct Mailbox {
    address: String,
    rx: mpsc::UnboundedReceiver<String>,
}

/// How long a sign-in waits for its code. Ferriam sends it before it answers the password
/// form, so it is normally there already.
const CODE_WAIT: Duration = Duration::from_secs(5);

impl Mailbox {
    /// Drops codes left over from an earlier sign-in that failed after its code was sent.
    pub fn clear(&mut self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// The next code sent to this address.
    pub async fn code(&mut self) -> Result<String> {
        match tokio::time::timeout(CODE_WAIT, self.rx.recv()).await {
            Ok(Some(code)) => Ok(code),
            Ok(None) => bail!("the mailbox of {} was replaced", self.address),
            Err(_) => bail!(
                "no code reached {} within {} s",
                self.address,
                CODE_WAIT.as_secs()
            ),
        }
    }
}

/// One SMTP connection, possibly carrying many messages (lettre pools its connections).
async fn converse(
    socket: TcpStream,
    routes: &Routes,
    unrouted: &AtomicU64,
    marker: &str,
) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    let mut recipients: Vec<String> = Vec::new();
    write.write_all(b"220 bench.sink ESMTP\r\n").await?;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .get(..4)
            .map(str::to_ascii_uppercase)
            .unwrap_or_default();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-bench.sink\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" | "MAIL" => {
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" => match angle_address(command) {
                Some(address) => {
                    recipients.push(address);
                    b"250 OK\r\n"
                }
                None => b"501 Syntax: RCPT TO:<address>\r\n",
            },
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let message = read_data(&mut reader, &mut line).await?;
                deliver(&message, &recipients, marker, routes, unrouted);
                recipients.clear();
                b"250 OK: queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The message after DATA, up to the line with a single dot, with quoted-printable soft line
/// breaks joined.
async fn read_data(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> std::io::Result<String> {
    let mut message = String::with_capacity(2048);
    loop {
        line.clear();
        if reader.read_line(line).await? == 0 {
            return Ok(message);
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return Ok(message);
        }
        match text.strip_suffix('=') {
            Some(soft) => message.push_str(soft),
            None => {
                message.push_str(text);
                message.push('\n');
            }
        }
    }
}

/// Hands the message's code to each recipient's mailbox.
fn deliver(
    message: &str,
    recipients: &[String],
    marker: &str,
    routes: &Routes,
    unrouted: &AtomicU64,
) {
    let Some(code) = code_in(message, marker) else {
        unrouted.fetch_add(recipients.len().max(1) as u64, Ordering::Relaxed);
        return;
    };
    let Ok(routes) = routes.lock() else {
        unrouted.fetch_add(recipients.len() as u64, Ordering::Relaxed);
        return;
    };
    for address in recipients {
        let sent = routes
            .get(address)
            .is_some_and(|tx| tx.send(code.to_owned()).is_ok());
        if !sent {
            unrouted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The address between `<` and `>` of `RCPT TO:<...>`, in lower case.
fn angle_address(command: &str) -> Option<String> {
    let start = command.find('<')? + 1;
    let end = start + command[start..].find('>')?;
    let address = &command[start..end];
    (!address.is_empty()).then(|| address.to_ascii_lowercase())
}

/// The six digits after `marker` ("for CLIENT is "), the first time it is followed by a code.
fn code_in<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    message.match_indices(marker).find_map(|(at, _)| {
        let code = message.get(at + marker.len()..at + marker.len() + 6)?;
        code.bytes().all(|b| b.is_ascii_digit()).then_some(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_and_the_recipient() {
        let text = "Subject: Your sign-in code for Bench\nYour sign-in code for Bench is 042917\n";
        assert_eq!(code_in(text, "for Bench is "), Some("042917"));
        assert_eq!(code_in("for Bench is 12ab56", "for Bench is "), None);
        assert_eq!(
            angle_address("RCPT TO:<Mail07@Example.com>"),
            Some("mail07@example.com".into())
        );
        assert_eq!(angle_address("RCPT TO:<>"), None);
    }

    /// A real conversation with lettre's pooled transport, as Ferriam sends: two messages to
    /// two addresses, each code in its own mailbox.
    #[tokio::test]
    async fn routes_each_code_to_its_recipient() -> Result<()> {
        use lettre::message::MultiPart;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
        let sink = Sink::start("Bench").await?;
        let mut first = sink.mailbox("a@example.com")?;
        let mut second = sink.mailbox("b@example.com")?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.smtp_url())?.build();
        for (to, code) in [("a@example.com", "111111"), ("b@example.com", "222222")] {
            let text = format!("Your sign-in code for Bench is {code}\n\nIt is valid for 5 minutes and can be used once. If you did not try to sign in, you can ignore this message.");
            let message = Message::builder()
                .from("Ferriam <no-reply@example.com>".parse()?)
                .to(to.parse()?)
                .subject("Your sign-in code for Bench")
                .multipart(MultiPart::alternative_plain_html(text.clone(), text))?;
            transport.send(message).await?;
        }
        assert_eq!(second.code().await?, "222222");
        assert_eq!(first.code().await?, "111111");
        assert_eq!(sink.unrouted(), 0);
        Ok(())
    }
}
