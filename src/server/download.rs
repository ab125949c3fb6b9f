//! A large envelope streamed to a client: the blocking vault read hands each chunk over in the
//! buffer it was read into, and the response body sends it on without copying it again (a
//! copy into a gathering buffer, and its growth, were a tenth of a 512 MiB get's server CPU).

use axum::body::Bytes;
use lockbox::vault::Error;
use tokio::sync::{mpsc, oneshot};

/// The most bytes one piece of the body holds: a larger chunk (they may be up to 16 MiB) goes
/// out in slices of it, so the channel's [`QUEUED`] pieces bound what waits for the network.
pub const PIECE: usize = 128 * 1024;
/// Pieces waiting for the connection.
pub const QUEUED: usize = 32;
/// Pieces smaller than this (the header; the chunks of an item sealed with small chunks) are
/// gathered into one of up to [`PIECE`] bytes: a body frame each would cost more than a copy.
const SMALL: usize = 16 * 1024;

pub type Piece = Result<Bytes, std::io::Error>;

/// Sends the pieces of a blocking vault read into the channel a response body streams from;
/// tells the handler once the first piece is ready (by then the read has checked everything
/// and logged itself).
pub struct Sink {
    tx: mpsc::Sender<Piece>,
    ready: Option<oneshot::Sender<()>>,
    gathered: Vec<u8>,
}

impl Sink {
    pub fn new(tx: mpsc::Sender<Piece>, ready: oneshot::Sender<()>) -> Sink {
        Sink { tx, ready: Some(ready), gathered: Vec::new() }
    }

    /// Takes one piece of the envelope, in order.
    pub fn take(&mut self, piece: Vec<u8>) -> Result<(), Error> {
        if piece.len() < SMALL {
            if self.gathered.len() + piece.len() > PIECE {
                self.flush()?;
            }
            if self.gathered.capacity() == 0 {
                self.gathered.reserve_exact(PIECE);
            }
            self.gathered.extend_from_slice(&piece);
            return Ok(());
        }
        self.flush()?;
        let mut piece = Bytes::from(piece);
        while !piece.is_empty() {
            let slice = piece.split_to(piece.len().min(PIECE));
            self.send(slice)?;
        }
        Ok(())
    }

    /// Whether anything was sent (the response has begun).
    pub fn started(&self) -> bool {
        self.ready.is_none()
    }

    /// Sends what is gathered.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let gathered = Bytes::from(std::mem::take(&mut self.gathered));
        self.send(gathered)
    }

    fn send(&mut self, bytes: Bytes) -> Result<(), Error> {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        self.tx.blocking_send(Ok(bytes)).map_err(|_| {
            Error::output(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything sent, in order, whatever the sizes: small pieces gathered, large ones sliced.
    #[test]
    fn pieces_arrive_whole_in_order_and_bounded() {
        let (tx, mut rx) = mpsc::channel(1024);
        let (ready, mut ready_rx) = oneshot::channel();
        let mut sink = Sink::new(tx, ready);
        let sizes = [10, 65_552, 3, SMALL - 1, SMALL, PIECE * 2 + 7, 1, PIECE, SMALL - 1];
        let mut expected = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let piece: Vec<u8> = (0..*n).map(|j| (i * 31 + j) as u8).collect();
            expected.extend_from_slice(&piece);
            sink.take(piece).unwrap();
        }
        sink.flush().unwrap();
        assert!(ready_rx.try_recv().is_ok());
        drop(sink);
        let mut got = Vec::new();
        while let Ok(piece) = rx.try_recv() {
            let piece = piece.unwrap();
            assert!(!piece.is_empty() && piece.len() <= PIECE, "a piece of {} bytes", piece.len());
            got.extend_from_slice(&piece);
        }
        assert_eq!(got, expected);
    }
}
