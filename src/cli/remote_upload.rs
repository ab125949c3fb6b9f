//! A streamed upload, sent by an async client on a runtime of its own: the blocking client
//! hands a body over 8 KiB at a time, one thread switch each, which made a large put through a
//! server a third slower than a local one. Here a reading thread (which also seals, when the
//! input is a sealing reader) fills pieces of up to [`PIECE`] bytes and the connection sends
//! them as they come; at most [`QUEUED`] pieces wait, so memory stays flat.

use std::io::Read;
use std::time::{Duration, Instant};

use lockbox::vault::Error;
use reqwest::StatusCode;

/// The most bytes one piece of an upload holds.
const PIECE: usize = 1 << 20;
/// A piece is sent once it is this old, full or not: a slow input still reaches the server
/// (which ends an upload that sends nothing for a minute).
const PIECE_AGE: Duration = Duration::from_secs(1);
/// Pieces read ahead of the connection.
const QUEUED: usize = 4;
/// The most of an answer read.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// What the server answered: its status and body (at most [`ANSWER_LIMIT`] bytes; a refusal's
/// body cut short is kept as far as it came), or the transport's failure.
pub type Answer = Result<(StatusCode, Vec<u8>), reqwest::Error>;

/// What the reading thread hands the connection.
enum Piece {
    Data(Vec<u8>),
    Failed(std::io::Error),
    /// The input ended: without it, a closed channel is a failure, never a finished body.
    End,
}

/// PUTs `input` to `url` with `token`; the server's answer. An error of `input` ends the
/// upload (the server sees it cut short) and comes back as a transport failure.
pub fn put_streamed(
    client: &reqwest::Client,
    token: &str,
    url: reqwest::Url,
    input: Box<dyn Read + Send>,
) -> Result<Answer, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::other(format!("cannot start the upload: {e}")))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(QUEUED);
    // Not joined: after an early answer the input may block (a terminal, a pipe) until it has
    // more; the thread ends at its next hand-over, which finds no one to take it.
    std::thread::Builder::new()
        .name("lockbox-upload".into())
        .spawn(move || read_pieces(input, tx))
        .map_err(|e| Error::other(format!("cannot start the upload: {e}")))?;
    let pieces = futures_util::stream::unfold((rx, false), |(mut rx, ended)| async move {
        if ended {
            return None;
        }
        let item = match rx.recv().await {
            Some(Piece::Data(bytes)) => Ok(bytes),
            Some(Piece::Failed(e)) => Err(e),
            Some(Piece::End) => return None,
            None => Err(std::io::Error::other("the reading of the upload stopped before its end")),
        };
        let ended = item.is_err();
        Some((item, (rx, ended)))
    });
    let body = reqwest::Body::wrap_stream(pieces);
    let answer = runtime.block_on(async {
        let response = client.put(url).bearer_auth(token).body(body).send().await?;
        let status = response.status();
        match limited(response).await {
            Ok(bytes) => Ok((status, bytes)),
            // A refusal whose body was cut (the server closed the connection on an upload it
            // refused early) is still a refusal: its status says so.
            Err((bytes, _)) if !status.is_success() => Ok((status, bytes)),
            Err((_, e)) => Err(e),
        }
    });
    Ok(answer)
}

/// Reads `input` into `tx` in pieces until its end, an error, or no one takes them.
fn read_pieces(mut input: Box<dyn Read + Send>, tx: tokio::sync::mpsc::Sender<Piece>) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let mut piece = Vec::with_capacity(PIECE);
        let started = Instant::now();
        let last = loop {
            let room = (PIECE - piece.len()).min(buf.len());
            match input.read(&mut buf[..room]) {
                Ok(0) => break Some(Piece::End),
                Ok(n) => piece.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(Piece::Failed(e)),
            }
            if piece.len() >= PIECE || started.elapsed() >= PIECE_AGE {
                break None;
            }
        };
        if !piece.is_empty() && tx.blocking_send(Piece::Data(piece)).is_err() {
            return;
        }
        if let Some(last) = last {
            let _ = tx.blocking_send(last);
            return;
        }
    }
}

/// The answer's body, cut at [`ANSWER_LIMIT`] + 1 bytes (the caller refuses one that long);
/// on a failure, what came before it.
pub async fn limited(mut response: reqwest::Response) -> Result<Vec<u8>, (Vec<u8>, reqwest::Error)> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > ANSWER_LIMIT {
                    return Ok(bytes);
                }
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err((bytes, e)),
        }
    }
}
