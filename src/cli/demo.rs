//! `lockbox demo`: the whole story on a temporary vault, narrated.

use lockbox::vault::Error;

pub fn run() -> Result<(), Error> {
    Err(Error::other("demo: not written yet"))
}
