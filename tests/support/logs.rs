//! Captures what the production log subscriber writes, to scan it for secrets.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for LogBuffer {
    type Writer = BufferWriter;
    fn make_writer(&'w self) -> Self::Writer {
        BufferWriter(self.0.clone())
    }
}

thread_local! {
    /// The buffer this thread's log lines go to while a capture is on.
    static CURRENT: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the current thread's capture buffer, or nowhere.
pub struct ThreadWriter;

impl<'w> MakeWriter<'w> for ThreadWriter {
    type Writer = ThreadBufferWriter;
    fn make_writer(&'w self) -> Self::Writer {
        ThreadBufferWriter(CURRENT.with(|current| current.borrow().as_ref().map(|b| b.0.clone())))
    }
}

pub struct ThreadBufferWriter(Option<Arc<Mutex<Vec<u8>>>>);

impl Write for ThreadBufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(buffer) = &self.0 {
            buffer.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Ends the capture of this thread's logs when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// Routes this thread's logs, formatted by the production subscriber, into a buffer until the
/// guard drops. Use with a current-thread runtime (`#[tokio::test]`), so every task logs on this
/// thread. One global subscriber serves every test of the binary: per-thread scoped subscribers
/// race on tracing's callsite-interest cache and can drop lines when tests run in parallel.
pub fn capture() -> (CaptureGuard, LogBuffer) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        tracing::subscriber::set_global_default(overten::logging::subscriber(ThreadWriter))
            .expect("no other global subscriber in the test binaries");
    });
    let buffer = LogBuffer::default();
    CURRENT.with(|current| *current.borrow_mut() = Some(buffer.clone()));
    (CaptureGuard, buffer)
}
