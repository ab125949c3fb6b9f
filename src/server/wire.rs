//! What crosses the wire besides envelopes: item metadata and errors, as JSON. Shared by the
//! server and the client (`--server`).

use serde::{Deserialize, Serialize};

/// An item as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub item: String,
    pub level: Option<String>,
    pub epoch: u32,
    pub key_epoch: u32,
    pub size: u64,
    pub created: u64,
}

impl Item {
    pub fn of(i: &lockbox::vault::ItemInfo) -> Item {
        Item {
            item: i.item.clone(),
            level: i.level.clone(),
            epoch: i.epoch,
            key_epoch: i.key_epoch,
            size: i.size,
            created: i.created,
        }
    }

    pub fn info(self, tenant: &str) -> lockbox::vault::ItemInfo {
        lockbox::vault::ItemInfo {
            tenant: tenant.to_owned(),
            item: self.item,
            level: self.level,
            epoch: self.epoch,
            key_epoch: self.key_epoch,
            size: self.size,
            created: self.created,
        }
    }
}

/// An error: the vault's kind (by name) and message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub error: FailureBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureBody {
    pub kind: String,
    pub message: String,
}
