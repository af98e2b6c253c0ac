//! The bytes of one sparse-index file: each version's stored record with `yanked` set from
//! its column, one JSON line each, oldest first. `GET /index/{id}` serves exactly these
//! bytes and the snapshot (`crate::metadata`) lists their length and hash, so both build
//! them here.

/// The index file of a pack whose versions are `rows` (`(record, yanked)`, in index order);
/// fails only on a stored record that is not JSON.
pub(crate) fn index_file(rows: &[(String, bool)]) -> serde_json::Result<String> {
    let mut body = String::new();
    for (record, yanked) in rows {
        let mut record: serde_json::Value = serde_json::from_str(record)?;
        record["yanked"] = serde_json::Value::Bool(*yanked);
        body.push_str(&record.to_string());
        body.push('\n');
    }
    Ok(body)
}
