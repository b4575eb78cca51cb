//! A sensor series end to end on the bundled NAB sample, as the README tells a user: train on
//! the CSV, export and score with only `--data` repeated, one score per row (causal), the
//! plot, and bad series as one-line errors with nothing written.

mod common;

use common::{aedge, fails, repo, stdout};
use std::path::{Path, PathBuf};

fn sample() -> PathBuf {
    repo().join("data/nab-sample/art_daily_jumpsup.csv")
}

fn tmp(name: &str) -> PathBuf {
    let d = repo().join("target/series-tests");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn train_export_score_a_series() {
    let run = tmp("run");
    let text = stdout(
        aedge()
            .args([
                "train",
                "--preset",
                "keras-lstm",
                "--window",
                "16",
                "--epochs",
                "3",
            ])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(&run),
    );
    // 4032 rows: the normal stretch is the first 15% (605 rows, NAB's probationary period).
    assert!(text.contains("normal stretch is rows 1-605"), "{text}");
    // The sample is a daily cycle of 5-minute rows.
    assert!(text.contains("a 288-row cycle found"), "{text}");
    assert!(text.contains("then: aedge score"), "{text}");
    assert!(run.join("checkpoint/series.json").exists());

    let model = tmp("series.aedge");
    let text = stdout(
        aedge()
            .args(["export", "--checkpoint"])
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(sample())
            .arg("-o")
            .arg(&model),
    );
    assert!(
        text.contains("held-out windows at the end of the normal stretch"),
        "{text}"
    );
    let info: serde_json::Value =
        serde_json::from_str(&stdout(aedge().args(["inspect", "--json"]).arg(&model))).unwrap();
    assert_eq!(info["series"]["window"], 16);
    assert_eq!(info["series"]["period"], 288);
    assert_eq!(info["series"]["columns"][0], "value");
    // One column: a pattern memory fitted on the normal stretch (605 rows: a point per 5).
    assert_eq!(info["series"]["pattern"]["step"], 5);
    assert_eq!(info["series"]["pattern"]["capacity"], 384);

    let scores = tmp("scores.csv");
    let _ = std::fs::remove_file(&scores);
    stdout(
        aedge()
            .arg("score")
            .arg(&model)
            .arg(sample())
            .arg("-o")
            .arg(&scores),
    );
    let all = rows(&scores);
    assert_eq!(
        all[0],
        [
            "timestamp",
            "value",
            "error",
            "level",
            "pattern",
            "score",
            "anomalous"
        ]
    );
    assert_eq!(all.len(), 4033);
    // Rows before the first full window have no score; every later row has one in [0, 1].
    assert!(all[1..16]
        .iter()
        .all(|r| r[2].is_empty() && r[6].is_empty()));
    let mut patterns = 0;
    for r in &all[16..] {
        let level: f32 = r[3].parse().unwrap();
        let pattern: f32 = r[4].parse().unwrap();
        let score: f32 = r[5].parse().unwrap();
        // The score is the level when it reports an event, else 0 (the hold); a pattern
        // report puts the level at PATTERN_FLOOR or above.
        assert!(
            (0.0..=1.0).contains(&level) && (score == level || score == 0.0),
            "{r:?}"
        );
        assert!((0.0..=1.0).contains(&pattern), "{r:?}");
        if pattern > 0.0 {
            patterns += 1;
            assert!(level >= aedge_runtime::PATTERN_FLOOR, "{r:?}");
        }
        assert!(r[6] == "true" || r[6] == "false");
    }
    // The one-column series keeps a pattern memory, which reports the jump's new shape.
    assert!(patterns > 0, "no pattern report");
    assert!(tmp("scores.png").exists());
    // The labelled anomaly (2014-04-10 16:15 to 2014-04-12 01:45) is flagged somewhere.
    assert!(
        all.iter().any(|r| r[6] == "true"
            && r[0].as_str() >= "2014-04-10 16:15"
            && r[0].as_str() <= "2014-04-12 01:45"),
        "the labelled anomaly is not flagged"
    );

    // Causal: scoring only the first 2000 rows gives the same scores for them.
    let head = tmp("head.csv");
    let text = std::fs::read_to_string(sample()).unwrap();
    let first: Vec<&str> = text.lines().take(2001).collect();
    std::fs::write(&head, first.join("\n") + "\n").unwrap();
    let head_scores = tmp("head-scores.csv");
    stdout(
        aedge()
            .arg("score")
            .arg(&model)
            .arg(&head)
            .arg("-o")
            .arg(&head_scores),
    );
    assert_eq!(rows(&head_scores)[..], all[..2001]);

    // eval takes the series too (its windows, every stride rows).
    let ev: serde_json::Value = serde_json::from_str(&stdout(
        aedge().args(["eval", "--json"]).arg(&model).arg(sample()),
    ))
    .unwrap();
    assert_eq!(ev["samples"], 4032 - 15);

    // Export refuses another window or another series; nothing is written.
    let never = tmp("never.aedge");
    let _ = std::fs::remove_file(&never);
    let e = fails(
        aedge()
            .args(["export", "--window", "32", "--checkpoint"])
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(sample())
            .arg("-o")
            .arg(&never),
    );
    assert!(e.contains("window"), "{e}");
    let other = tmp("other.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = "2014-04-01 00:00:00,99.5".into();
    std::fs::write(&other, lines.join("\n") + "\n").unwrap();
    let e = fails(
        aedge()
            .args(["export", "--checkpoint"])
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(&other)
            .arg("-o")
            .arg(&never),
    );
    assert!(e.contains("not the normal stretch"), "{e}");
    assert!(!never.exists());

    // Bad series to score: each a one-line error naming the row and column; no output.
    let bad = |name: &str, body: &str| {
        let p = tmp(name);
        std::fs::write(&p, body).unwrap();
        let out = tmp(&format!("{name}.scores.csv"));
        let _ = std::fs::remove_file(&out);
        let e = fails(aedge().arg("score").arg(&model).arg(&p).arg("-o").arg(&out));
        assert!(
            !out.exists() && !out.with_extension("png").exists(),
            "{name}"
        );
        e
    };
    let e = bad(
        "gap.csv",
        "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,\n",
    );
    assert!(e.contains("row 2, column 'value' is empty"), "{e}");
    let e = bad(
        "nan.csv",
        "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,NaN\n",
    );
    assert!(
        e.contains("row 2, column 'value': 'NaN' is not a number"),
        "{e}"
    );
    let e = bad(
        "text.csv",
        "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,high\n",
    );
    assert!(e.contains("'high' is not a number"), "{e}");
    let e = bad("short.csv", "timestamp,value\n2014-01-01 00:00:00,1\n");
    assert!(e.contains("fewer than the model's window of 16"), "{e}");
    let e = bad("column.csv", "timestamp,temp\n2014-01-01 00:00:00,1\n");
    assert!(e.contains("no column named 'value'"), "{e}");
}

#[test]
fn series_training_checks_its_arguments() {
    let e = fails(
        aedge()
            .args(["train", "--preset", "keras-lstm", "--window", "700"])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(tmp("never-run")),
    );
    assert!(e.contains("fewer than one window of 700"), "{e}");
    let e = fails(
        aedge()
            .args(["train", "--preset", "keras-lstm", "--normal-part", "0"])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(tmp("never-run")),
    );
    assert!(e.contains("--normal-part"), "{e}");
    let e = fails(
        aedge()
            .args(["train", "--preset", "keras-lstm", "--columns", "temp"])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(tmp("never-run")),
    );
    assert!(e.contains("no column named 'temp'"), "{e}");
    for (period, says) in [
        ("605", "not shorter than the normal stretch"),
        ("70000", "at most 65535"),
    ] {
        let e = fails(
            aedge()
                .args(["train", "--preset", "keras-lstm", "--period", period])
                .arg("--data")
                .arg(sample())
                .arg("--out")
                .arg(tmp("never-run")),
        );
        assert!(e.contains(says), "{e}");
        assert!(!tmp("never-run").exists());
    }
}

/// Several sensor columns work the same way: `--columns` picks them, the scores file echoes
/// each, and the model's window holds them as channels.
#[test]
fn multivariate_series() {
    let csv = tmp("two-sensors.csv");
    let mut text = String::from("time,temp,label,current\n");
    for r in 0..600 {
        let x = r as f32 * 0.2;
        let spike = if r == 500 { 8.0 } else { 0.0 };
        text += &format!(
            "t{r},{},ok,{}\n",
            20.0 + x.sin() + spike,
            1.5 + 0.5 * x.cos()
        );
    }
    std::fs::write(&csv, text).unwrap();
    let run = tmp("two-run");
    stdout(
        aedge()
            .args([
                "train",
                "--preset",
                "series-dense",
                "--window",
                "8",
                "--epochs",
                "5",
            ])
            .args([
                "--columns",
                "temp,current",
                "--normal-part",
                "0.5",
                "--data",
            ])
            .arg(&csv)
            .arg("--out")
            .arg(&run),
    );
    let model = tmp("two.aedge");
    stdout(
        aedge()
            .args(["export", "--checkpoint"])
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(&csv)
            .arg("-o")
            .arg(&model),
    );
    let info: serde_json::Value =
        serde_json::from_str(&stdout(aedge().args(["inspect", "--json"]).arg(&model))).unwrap();
    assert_eq!(
        info["series"]["columns"],
        serde_json::json!(["temp", "current"])
    );
    let scores = tmp("two-scores.csv");
    stdout(
        aedge()
            .arg("score")
            .arg(&model)
            .arg(&csv)
            .arg("-o")
            .arg(&scores),
    );
    let all = rows(&scores);
    assert_eq!(
        all[0],
        [
            "time",
            "temp",
            "current",
            "error",
            "level",
            "pattern",
            "score",
            "anomalous"
        ]
    );
    assert_eq!(all.len(), 601);
    // The spike at row 500 has a higher level than every row of the normal stretch it was
    // trained on.
    let score = |r: usize| all[r + 1][4].parse::<f32>().unwrap();
    let normal_max = (7..300).map(score).fold(0.0, f32::max);
    assert!(score(500) > normal_max, "{} vs {normal_max}", score(500));
}
