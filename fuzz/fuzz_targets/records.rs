//! Every internal record type through the one codec; the first byte picks the type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::store::codec;
use lockbox::store::records::{
    DeliveryRecord, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord, TokenRecord,
    WebhookRecord,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn check<T: Serialize + DeserializeOwned>(data: &[u8]) {
    if let Ok(r) = codec::decode::<T>("record", data) {
        assert_eq!(codec::encode("record", &r).unwrap(), data);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, rest)) = data.split_first() else { return };
    match kind % 8 {
        0 => check::<TenantRecord>(rest),
        1 => check::<ItemRecord>(rest),
        2 => check::<EngineerRecord>(rest),
        3 => check::<RequestRecord>(rest),
        4 => check::<GrantRecord>(rest),
        5 => check::<TokenRecord>(rest),
        6 => check::<WebhookRecord>(rest),
        _ => check::<DeliveryRecord>(rest),
    }
});
