//! DynamoDB Local of one test's own, on its own port, so stopping, restarting or freezing it
//! disturbs no other test. Stopped (and thawed first) when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct OwnDynamo {
    env: Vec<(&'static str, String)>,
    pid_file: PathBuf,
}

impl OwnDynamo {
    /// Started on `port`; with `persistent`, data on disk so it survives a restart.
    pub fn start(port: u16, persistent: bool) -> Self {
        let scratch = std::env::temp_dir().join(format!("overten-ddb-{}", overten::api_key::random_base62(8)));
        let run_dir = scratch.join("run");
        let mut env = vec![("DDB_PORT", port.to_string()), ("RUN_DIR", run_dir.display().to_string())];
        if persistent {
            env.push(("DDB_DATA_DIR", scratch.join("data").display().to_string()));
        }
        let ddb = OwnDynamo { env, pid_file: run_dir.join("ddb.pid") };
        ddb.services("start");
        ddb
    }

    /// `services.sh start|stop ddb` with this instance's port and folders.
    pub fn services(&self, action: &str) {
        let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/scripts/services.sh"))
            .args([action, "ddb"])
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "services.sh {action} ddb");
    }

    /// `-STOP` / `-CONT`: frozen, the port still accepts connections and nothing answers.
    pub fn signal(&self, signal: &str) {
        let Ok(pid) = std::fs::read_to_string(&self.pid_file) else { return };
        assert!(Command::new("kill").args([signal, pid.trim()]).status().unwrap().success());
    }
}

impl Drop for OwnDynamo {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.services("stop");
    }
}
