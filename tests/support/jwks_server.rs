//! A key-set endpoint on 127.0.0.1 (a JWKS, or GitHub's secret-scanning keys) whose answer the
//! test controls, counting the fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub max_age: u64,
    pub delay: Duration,
}

pub struct JwksServer {
    pub url: String,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: &[Value], max_age: u64) -> Self {
        Self::serving(serde_json::json!({ "keys": keys }).to_string(), max_age).await
    }

    /// Any key-set document (GitHub's secret-scanning keys, for one).
    pub async fn serving(body: String, max_age: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new(Answer { status: 200, body, max_age, delay: Duration::ZERO }));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (answer.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (a, h) = (a.clone(), h.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let answer = a.lock().unwrap().clone();
                    tokio::time::sleep(answer.delay).await;
                    let response = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncache-control: public, max-age={}, must-revalidate, no-transform\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        answer.status,
                        answer.max_age,
                        answer.body.len(),
                        answer.body
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        JwksServer { url, answer, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn set(&self, change: impl FnOnce(&mut Answer)) {
        change(&mut self.answer.lock().unwrap());
    }

    pub fn set_keys(&self, keys: &[Value]) {
        self.set(|a| a.body = serde_json::json!({ "keys": keys }).to_string());
    }
}
