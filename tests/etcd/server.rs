//! A real etcd server for the test: started on loopback ports of its own with a data dir
//! of its own, both gone when the guard drops. The `etcd` binary comes from Debian's
//! `etcd-server` (CI's `.ci/run` installs it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd; killed, and its data dir removed, on drop.
pub struct EtcdServer {
    child: Child,
    dir: PathBuf,
    /// The client address, `127.0.0.1:port`.
    pub address: String,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// Where data dirs go: memory when the machine has a tmpfs at `/dev/shm`, so a busy
/// disk's fsync cannot stall etcd's lease revokes; the temp dir otherwise.
fn data_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

impl EtcdServer {
    /// Starts etcd and waits until it answers.
    pub fn start() -> Self {
        let (client, peer) = (free_port(), free_port());
        let dir = data_root().join(format!("sigrelay-etcd-{}-{client}", std::process::id()));
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .arg("--data-dir").arg(&dir)
            .args(["--name", "sigrelay-test"])
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("sigrelay-test={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `etcd` ({e}): install Debian's etcd-server (`apt-get install etcd-server`), as .ci/run does")
            });
        let server = EtcdServer {
            child,
            dir,
            address: format!("127.0.0.1:{client}"),
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if healthy(&self.address) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "etcd at {} did not become healthy within 20 s",
            self.address
        );
    }
}

fn healthy(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.contains("\"health\":\"true\"")
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
