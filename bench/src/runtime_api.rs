//! A minimal Lambda Runtime API (`/2018-06-01/runtime/invocation/next` and `/response`), served
//! by the bench so a release `bootstrap` can be started and invoked as Lambda would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{Semaphore, mpsc};

/// One `/response` or `/error`.
#[derive(Debug)]
pub struct Done {
    /// When it arrived.
    pub at: Instant,
    /// When its invocation was handed out by `next` (the function's own time is `at - handed`).
    pub handed: Instant,
    /// A `/response` (not an `/error`).
    pub ok: bool,
    pub body: Bytes,
}

impl Done {
    /// The invocation as the Runtime API saw it: event handed out to answer received, in µs.
    pub fn micros(&self) -> f64 {
        self.at.duration_since(self.handed).as_nanos() as f64 / 1000.0
    }
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    /// Invocations still to hand out; `next` waits (without polling) until there is one.
    remaining: Arc<Semaphore>,
    pub done: mpsc::UnboundedReceiver<Done>,
}

impl RuntimeApi {
    pub async fn start(event: Vec<u8>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let remaining = Arc::new(Semaphore::new(0));
        let (tx, done) = mpsc::unbounded_channel();
        let event = Bytes::from(event);
        let permits = remaining.clone();
        // One function process, one invocation at a time: when the last one was handed out.
        let handed = Arc::new(Mutex::new(Instant::now()));
        tokio::spawn(async move {
            let mut served = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let _ = stream.set_nodelay(true);
                let (event, permits, tx, handed) = (event.clone(), permits.clone(), tx.clone(), handed.clone());
                served += 1;
                let base = served * 1_000_000;
                let ids = Arc::new(AtomicUsize::new(0));
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let (event, permits, tx, ids, handed) =
                            (event.clone(), permits.clone(), tx.clone(), ids.clone(), handed.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            if path.ends_with("/invocation/next") {
                                permits.acquire().await.expect("the semaphore is never closed").forget();
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
                                *handed.lock().unwrap() = Instant::now();
                                return Ok::<_, Infallible>(response);
                            }
                            let ok = path.ends_with("/response");
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let at = Instant::now();
                            let handed = *handed.lock().unwrap();
                            let _ = tx.send(Done { at, handed, ok, body });
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
        self.remaining.add_permits(n);
    }
}
