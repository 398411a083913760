//! A minimal Lambda Runtime API (`/2018-06-01/runtime/invocation/next` and `/response`), served
//! by the bench so a release `bootstrap` can be started and invoked as Lambda would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

pub struct RuntimeApi {
    pub addr: SocketAddr,
    /// Invocations still to hand out; `next` waits forever once it reaches 0.
    remaining: Arc<AtomicUsize>,
    /// One message per `/response` or `/error`: when it arrived and whether it was a response.
    pub done: mpsc::UnboundedReceiver<(Instant, bool, Bytes)>,
}

impl RuntimeApi {
    pub async fn start(event: Vec<u8>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let remaining = Arc::new(AtomicUsize::new(0));
        let (tx, done) = mpsc::unbounded_channel();
        let event = Bytes::from(event);
        let counter = remaining.clone();
        tokio::spawn(async move {
            let mut served = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (event, counter, tx) = (event.clone(), counter.clone(), tx.clone());
                served += 1;
                let base = served * 1_000_000;
                let ids = Arc::new(AtomicUsize::new(0));
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let (event, counter, tx, ids) = (event.clone(), counter.clone(), tx.clone(), ids.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            if path.ends_with("/invocation/next") {
                                while counter
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                                    .is_err()
                                {
                                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                                }
                                let id = base + ids.fetch_add(1, Ordering::SeqCst) as u64;
                                let response = hyper::Response::builder()
                                    .header("lambda-runtime-aws-request-id", format!("bench-{id}"))
                                    .header("lambda-runtime-deadline-ms", "9999999999999")
                                    .header(
                                        "lambda-runtime-invoked-function-arn",
                                        "arn:aws:lambda:us-east-1:123456789012:function:authorizer",
                                    )
                                    .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
                                    .body(Full::new(event))
                                    .unwrap();
                                return Ok::<_, Infallible>(response);
                            }
                            let ok = path.ends_with("/response");
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let _ = tx.send((Instant::now(), ok, body));
                            Ok(hyper::Response::builder().status(202).body(Full::new(Bytes::new())).unwrap())
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        RuntimeApi { addr, remaining, done }
    }

    /// Lets `n` more invocations through.
    pub fn allow(&self, n: usize) {
        self.remaining.fetch_add(n, Ordering::SeqCst);
    }
}
