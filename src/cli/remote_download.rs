//! A streamed download, received by an async client on a thread and runtime of its own and
//! read here as plain `Read`. The blocking client hands a body over one TLS record (16 KiB) per
//! read, each a wake-up of its runtime thread, and holds little ahead: a reader that paused to
//! write to a disk stalled the server behind it. Here the connection reads ahead up to
//! [`AHEAD`] pieces of [`PIECE`] bytes while the reader decrypts and writes.

use std::io::Read;

use bytes::Bytes;
use lockbox::vault::Error;

use super::remote_upload::{Answer, limited};

/// Bytes one piece of the queue holds at most. What the connection delivers is copied into
/// pieces of its own: a frame handed on as is would keep the whole buffer it was read into
/// alive (several hundred KiB for a frame of a few bytes, from a server that sends it so), and
/// the queue's bound would be a count of frames, not of bytes.
const PIECE: usize = 256 * 1024;
/// Pieces the connection may read ahead of the reader: with [`PIECE`], 16 MiB.
const AHEAD: usize = 64;

/// What the connection hands the reader.
enum Piece {
    Data(Bytes),
    Failed(reqwest::Error),
    /// The body ended: without it, a closed channel is a failure, never the end of the body.
    End,
}

/// How a GET began: a body to read, or the server's answer (a refusal), or the transport's
/// failure before any answer.
pub enum Started {
    Body(Download),
    Answered(Answer),
}

/// GETs `url` with `token`. The request is sent and its status read before this returns.
pub fn get_streamed(client: &reqwest::Client, token: &str, url: reqwest::Url) -> Result<Started, Error> {
    let (head_tx, head_rx) = std::sync::mpsc::sync_channel::<Result<Started, Error>>(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(AHEAD);
    let request = client.get(url).bearer_auth(token);
    // Not joined: a reader that stops early drops its end, and the thread ends at its next
    // hand-over (or when the server closes the connection it no longer reads).
    std::thread::Builder::new()
        .name("lockbox-download".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    let _ = head_tx.send(Err(Error::other(format!("cannot start the download: {e}"))));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut response = match request.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = head_tx.send(Ok(Started::Answered(Err(e))));
                        return;
                    }
                };
                let status = response.status();
                if !status.is_success() {
                    let answer = match limited(response).await {
                        Ok(bytes) | Err((bytes, _)) => Ok((status, bytes)),
                    };
                    let _ = head_tx.send(Ok(Started::Answered(answer)));
                    return;
                }
                let _ = head_tx.send(Ok(Started::Body(Download { rx, current: Bytes::new(), ended: false })));
                let mut piece = Vec::with_capacity(PIECE);
                let last = loop {
                    let frame = match response.chunk().await {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break Piece::End,
                        Err(e) => break Piece::Failed(e),
                    };
                    if gather(&mut piece, &frame, &tx).await.is_err() {
                        return;
                    }
                    // A reader with nothing queued gets what there is now, not when a piece is
                    // full.
                    if !piece.is_empty() && tx.capacity() == AHEAD {
                        let some = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
                        if tx.send(Piece::Data(Bytes::from(some))).await.is_err() {
                            return;
                        }
                    }
                };
                if !piece.is_empty() && tx.send(Piece::Data(Bytes::from(piece))).await.is_err() {
                    return;
                }
                let _ = tx.send(last).await;
            });
        })
        .map_err(|e| Error::other(format!("cannot start the download: {e}")))?;
    head_rx.recv().unwrap_or_else(|_| Err(Error::other("the download stopped before the server answered")))
}

/// Copies `frame` into `piece`, sending each piece that fills up. An error: no one reads.
async fn gather(
    piece: &mut Vec<u8>,
    mut frame: &[u8],
    tx: &tokio::sync::mpsc::Sender<Piece>,
) -> Result<(), tokio::sync::mpsc::error::SendError<Piece>> {
    while !frame.is_empty() {
        let take = frame.len().min(PIECE - piece.len());
        piece.extend_from_slice(&frame[..take]);
        frame = &frame[take..];
        if piece.len() == PIECE {
            let full = std::mem::replace(piece, Vec::with_capacity(PIECE));
            tx.send(Piece::Data(Bytes::from(full))).await?;
        }
    }
    Ok(())
}

/// A body being received; `Read` gives it in order. A failure of the connection part-way is a
/// read error carrying the transport's error; a connection that went away without the body's
/// end is an error too, never a shorter body.
pub struct Download {
    rx: tokio::sync::mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() && !self.ended && !buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Piece::Data(bytes)) => self.current = bytes,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Failed(e)) => return Err(std::io::Error::other(causes(&e))),
                None => {
                    return Err(std::io::Error::other("the connection's thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// An error and its causes, in one line.
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(pieces: Vec<Piece>) -> Download {
        let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
        for piece in pieces {
            tx.try_send(piece).ok().unwrap();
        }
        Download { rx, current: Bytes::new(), ended: false }
    }

    #[test]
    fn a_body_reads_whole_and_in_order_up_to_its_end() {
        let parts: [&[u8]; 3] = [b"first ", b"", b"and second"];
        let mut pieces: Vec<Piece> = parts.iter().map(|p| Piece::Data(Bytes::copy_from_slice(p))).collect();
        pieces.push(Piece::End);
        let mut body = download(pieces);
        let mut out = Vec::new();
        let mut small = [0u8; 4];
        loop {
            match body.read(&mut small).unwrap() {
                0 => break,
                n => out.extend_from_slice(&small[..n]),
            }
        }
        assert_eq!(out, b"first and second");
        assert_eq!(body.read(&mut small).unwrap(), 0, "the end stays the end");
    }

    /// Frames of any size become pieces of at most [`PIECE`] bytes, each in a buffer of its
    /// own, in order: what the queue holds is bounded by its count of pieces.
    #[test]
    fn frames_are_copied_into_bounded_pieces_in_order() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let frames: Vec<Vec<u8>> = [1, PIECE - 1, 3, PIECE * 2 + 5, 16 * 1024]
            .iter()
            .enumerate()
            .map(|(i, n)| vec![i as u8; *n])
            .collect();
        let mut piece = Vec::with_capacity(PIECE);
        runtime.block_on(async {
            for frame in &frames {
                gather(&mut piece, frame, &tx).await.ok().unwrap();
            }
        });
        let mut got = Vec::new();
        while let Ok(Piece::Data(bytes)) = rx.try_recv() {
            assert_eq!(bytes.len(), PIECE, "only full pieces go before the end");
            got.extend_from_slice(&bytes);
        }
        got.extend_from_slice(&piece);
        assert!(piece.capacity() <= PIECE);
        assert_eq!(got, frames.concat());
    }

    /// A connection's thread that went away without saying the body ended (it failed, or
    /// panicked) is an error, never a body that happens to be shorter.
    #[test]
    fn a_body_whose_thread_stops_before_its_end_fails() {
        let mut body = download(vec![Piece::Data(Bytes::from_static(b"part of it"))]);
        let mut out = Vec::new();
        let e = body.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, b"part of it");
        assert!(e.to_string().contains("stopped"), "{e}");
    }
}
