//! Early write-back: while a large file is being written, a background thread fdatasyncs it
//! now and then, so the disk writes while the CPUs encrypt and the final sync finds little
//! left to do. Purely an optimisation: every durability guarantee still comes from the final
//! sync of the writer itself, and a failed early sync is ignored (that final sync reports it).

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes written between two nudges of a [`SyncingFile`].
pub const EVERY_BYTES: u64 = 16 << 20;

/// A thread that syncs one file whenever nudged.
pub struct Writeback {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Writeback {
    /// Starts the thread for `file`, a handle of its own to the file being written (on Linux a
    /// read-only handle may be synced). If no thread can be started, nudges do nothing.
    pub fn new(file: File) -> Writeback {
        let (nudge, nudged) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("writeback".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    let _ = file.sync_data();
                }
            })
            .ok();
        Writeback { nudge: Some(nudge), thread }
    }

    /// Asks for a sync; does nothing if one is already waiting to start.
    pub fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.try_send(());
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A file being written that nudges a [`Writeback`] every [`EVERY_BYTES`].
pub struct SyncingFile {
    file: File,
    writeback: Option<Writeback>,
    since: u64,
}

impl SyncingFile {
    /// Wraps `file`; the writeback thread starts with the first [`EVERY_BYTES`] written, so a
    /// small file never starts one.
    pub fn new(file: File) -> SyncingFile {
        SyncingFile { file, writeback: None, since: 0 }
    }

    /// The file, once the writeback thread (if any) has finished.
    pub fn into_inner(self) -> File {
        self.file
    }
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since += n as u64;
        if self.since >= EVERY_BYTES {
            self.since = 0;
            if self.writeback.is_none() {
                self.writeback = self.file.try_clone().ok().map(Writeback::new);
            }
            if let Some(w) = &self.writeback {
                w.nudge();
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
