//! The handshake: the first message on every connection is a [`Hello`] with the protocol
//! version, the cluster id, the caller's node id and the cluster's shared-secret token. The
//! server checks it with [`Credentials::check`] before anything else, and refuses with a
//! typed [`Refusal`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::frame::NodeId;

/// The protocol version this build speaks: 2 since frames carry their writer's group.
pub const VERSION: u16 = 2;

/// The first message of a connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The caller's protocol version.
    pub version: u16,
    /// The cluster the caller belongs to.
    pub cluster: u64,
    /// The caller's node.
    pub node: NodeId,
    /// The cluster's shared secret.
    pub token: [u8; 32],
}

impl fmt::Debug for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hello")
            .field("version", &self.version)
            .field("cluster", &self.cluster)
            .field("node", &self.node)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why a server refused a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The caller speaks another protocol version.
    Version {
        /// The caller's.
        theirs: u16,
        /// The server's.
        ours: u16,
    },
    /// The caller belongs to another cluster.
    Cluster {
        /// The caller's.
        theirs: u64,
        /// The server's.
        ours: u64,
    },
    /// The caller's token is wrong.
    Token,
    /// The caller's first message was not a hello.
    NoHello,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Version { theirs, ours } => {
                write!(f, "protocol version {theirs}, this node speaks {ours}")
            }
            Refusal::Cluster { theirs, ours } => {
                write!(f, "cluster {theirs:#x}, this node is in {ours:#x}")
            }
            Refusal::Token => f.write_str("wrong cluster token"),
            Refusal::NoHello => f.write_str("the first message was not a hello"),
        }
    }
}

impl std::error::Error for Refusal {}

/// What a node of the cluster knows to admit a peer: the cluster id and the shared token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The cluster.
    pub cluster: u64,
    /// The shared secret.
    pub token: [u8; 32],
}

impl Credentials {
    /// The hello node `node` sends with these credentials.
    pub fn hello(&self, node: NodeId) -> Hello {
        Hello {
            version: VERSION,
            cluster: self.cluster,
            node,
            token: self.token,
        }
    }

    /// Admits `hello`, or says why not. The token comparison takes the same time whatever
    /// the token, so a caller cannot learn it byte by byte.
    pub fn check(&self, hello: &Hello) -> Result<(), Refusal> {
        if hello.version != VERSION {
            let (theirs, ours) = (hello.version, VERSION);
            return Err(Refusal::Version { theirs, ours });
        }
        if hello.cluster != self.cluster {
            let (theirs, ours) = (hello.cluster, self.cluster);
            return Err(Refusal::Cluster { theirs, ours });
        }
        let differing = hello.token.iter().zip(&self.token);
        let differing = differing.fold(0u8, |acc, (a, b)| acc | (a ^ b));
        match differing {
            0 => Ok(()),
            _ => Err(Refusal::Token),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("cluster", &self.cluster)
            .field("token", &"<redacted>")
            .finish()
    }
}
