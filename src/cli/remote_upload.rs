//! A streamed upload, sent by an async client on a runtime of its own: the blocking client
//! hands a body over 8 KiB at a time, one thread switch each, which made a large put through a
//! server a third slower than a local one. Here a reading thread (which also seals, when the
//! input is a sealing reader) fills pieces of up to [`PIECE`] bytes and the connection sends
//! them as they come; at most [`QUEUED`] pieces wait, so memory stays flat.

use std::io::Read;

use lockbox::vault::Error;
use reqwest::StatusCode;

/// The most bytes one piece of an upload holds.
const PIECE: u64 = 1 << 20;
/// Pieces read ahead of the connection.
const QUEUED: usize = 4;
/// The most of an answer read.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// What the server answered: its status and body (at most [`ANSWER_LIMIT`] bytes), or the
/// transport's failure.
pub type Answer = Result<(StatusCode, Vec<u8>), reqwest::Error>;

/// PUTs `input` to `url` with `token`; the server's answer. An error of `input` ends the
/// upload (the server sees it cut short) and comes back as a transport failure.
pub fn put_streamed(
    client: &reqwest::Client,
    token: &str,
    url: reqwest::Url,
    input: Box<dyn Read + Send>,
) -> Result<Answer, Error> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(QUEUED);
    std::thread::scope(|scope| {
        scope.spawn(move || read_pieces(input, tx));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::other(format!("cannot start the upload: {e}")))?;
        let pieces =
            futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
        let body = reqwest::Body::wrap_stream(pieces);
        let answer = runtime.block_on(async {
            let response = client.put(url).bearer_auth(token).body(body).send().await?;
            let status = response.status();
            Ok((status, limited(response).await?))
        });
        // Dropping the runtime drops the body, if the connection still holds it: the reading
        // thread, waiting to hand over a piece, then stops.
        drop(runtime);
        Ok(answer)
    })
}

/// Reads `input` in pieces into `tx` until its end, an error, or no one takes them.
fn read_pieces(mut input: Box<dyn Read + Send>, tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    loop {
        let mut piece = Vec::with_capacity(PIECE as usize);
        let read = input.by_ref().take(PIECE).read_to_end(&mut piece);
        let (piece, last) = match read {
            Ok(0) => return,
            Ok(_) => (Ok(piece), false),
            Err(e) => (Err(e), true),
        };
        if tx.blocking_send(piece).is_err() || last {
            return;
        }
    }
}

/// The answer's body, cut at [`ANSWER_LIMIT`] + 1 bytes (the caller refuses one that long).
async fn limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > ANSWER_LIMIT {
            break;
        }
    }
    Ok(bytes)
}
