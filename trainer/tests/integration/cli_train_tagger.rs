//! `matpac train-tagger`: flag combinations that cannot work fail at once with
//! one line saying what to do.

use std::process::Command;

#[test]
fn freeze_backbone_without_init_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("labels.csv"), dir.path().join("tagger"));
    let o = Command::new(env!("CARGO_BIN_EXE_matpac"))
        .arg("train-tagger")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--freeze-backbone")
        .output()
        .expect("runs matpac");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    // Checked before the (missing) data is read: the error names the flag and the fix.
    assert!(
        stderr.contains("--freeze-backbone")
            && stderr.contains("--init STUDENT_DIR")
            && stderr.trim().lines().count() == 1
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!out.exists());
}
