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

/// Routes this thread's logs into a buffer until the guard drops. Use with a current-thread
/// runtime (`#[tokio::test]`), so every task logs on this thread.
pub fn capture() -> (tracing::subscriber::DefaultGuard, LogBuffer) {
    let buffer = LogBuffer::default();
    let guard = tracing::subscriber::set_default(overten::logging::subscriber(buffer.clone()));
    (guard, buffer)
}
