//! The built function binaries in a Lambda-shaped environment: a development-only setting stops
//! the cold start with an error naming the variable; the production configuration with the real
//! defaults starts and asks the Lambda runtime API for its first event. `make test` builds the
//! binaries first (cargo test holds the build lock).

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn binary(name: &str) -> PathBuf {
    overten_tests::built_binary(name)
}

/// The environment Lambda gives a deployed function (the template's variables included).
fn lambda_command(function: &str, runtime_api: &str) -> Command {
    let mut command = Command::new(binary(function));
    command
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("overten-keys-prod-{function}"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/overten-keys-prod-{function}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("API_KEYS_TABLE", "overten-prod-ApiKeys")
        .env("ORGS_TABLE", "overten-prod-Orgs")
        .env("FIREBASE_PROJECT_ID", "overten-prod")
        .env("CORS_ALLOWED_ORIGIN", "https://dashboard.overten.com")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs to its exit (at most 20 s) and returns (success, stderr + stdout).
fn run_to_exit(mut command: Command) -> (bool, String) {
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the cold start neither failed nor asked for an event");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    child.stderr.take().unwrap().read_to_string(&mut output).unwrap();
    child.stdout.take().unwrap().read_to_string(&mut output).unwrap();
    (status.success(), output)
}

#[test]
fn development_settings_stop_a_deployed_cold_start() {
    for function in ["signup", "keys"] {
        let mut command = lambda_command(function, "127.0.0.1:9");
        command.env("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099").env("FIREBASE_PROJECT_ID", "demo-overten");
        let (ok, output) = run_to_exit(command);
        assert!(!ok && output.contains("FIREBASE_AUTH_EMULATOR_HOST"), "{function}: {output}");

        let mut command = lambda_command(function, "127.0.0.1:9");
        command.env("FIREBASE_JWKS_URL", "http://127.0.0.1:9/jwks");
        let (ok, output) = run_to_exit(command);
        assert!(!ok && output.contains("FIREBASE_JWKS_URL") && output.contains("https"), "{function}: {output}");
    }
}

#[test]
fn the_production_configuration_starts() {
    for function in ["signup", "keys"] {
        // A runtime API that accepts the connection and never answers: a started function waits
        // there for its first event.
        let runtime_api = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = runtime_api.local_addr().unwrap().to_string();
        let mut child = lambda_command(function, &address).spawn().unwrap();
        runtime_api.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut request = String::new();
        while Instant::now() < deadline && !request.contains("invocation/next") {
            if let Ok((mut stream, _)) = runtime_api.accept() {
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buffer = [0u8; 1024];
                let n = stream.read(&mut buffer).unwrap_or(0);
                request = String::from_utf8_lossy(&buffer[..n]).into_owned();
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut output = String::new();
                child.stderr.take().unwrap().read_to_string(&mut output).unwrap();
                panic!("{function} exited ({status}) before asking for an event: {output}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(request.starts_with("GET /2018-06-01/runtime/invocation/next"), "{function}: {request:?}");
    }
}
