//! Serde for types whose wire form is their `Display`/`FromStr` text.

/// Implements `Serialize` via `Display` and `Deserialize` via `FromStr` for `$ty`.
macro_rules! serde_as_text {
    ($($ty:ty),+ $(,)?) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )+};
}

serde_as_text!(
    crate::PackId,
    crate::Sha256Digest,
    crate::BaseCompat,
    crate::PublicKey,
    crate::PackSignature,
);
