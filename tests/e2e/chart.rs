//! The Helm chart (issue 8): `helm lint`, `helm template` for several value sets, the values schema, the
//! hardening of the Deployment, RBAC taken from the rules file the integration tests bind, `deploy/` and the
//! chart's CRDs current, the PrometheusRule naming only metrics the operator exports, and a server-side dry
//! run of the rendered manifests on the real apiserver.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("charts/ob-backup-operator")
}

/// The binary scripts/test.sh built and named in `variable`, or `None` (with the reason printed) outside it.
fn helm() -> Option<PathBuf> {
    crate::support::tools::built("OBBACKUP_HELM", "helm")
}

/// Runs helm; returns (success, stdout, stderr).
fn run(helm: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(helm).args(args).output().expect("run helm");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `helm template` with extra arguments, as parsed YAML documents.
fn template(helm: &Path, extra: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec![
        "template",
        "ob-backup-operator",
        chart.to_str().expect("path"),
        "--namespace",
        "obbackup-system",
    ];
    args.extend(extra);
    let (ok, out, err) = run(helm, &args);
    assert!(ok, "helm template {extra:?} failed: {err}");
    documents(&out)
}

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .filter_map(|doc| Value::deserialize(doc).ok())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn values_file(name: &str) -> String {
    repo().join("tests/chart").join(name).display().to_string()
}

#[test]
fn helm_lint_passes_for_every_value_set() {
    let Some(helm) = helm() else { return };
    let chart = chart().display().to_string();
    for values in [
        None,
        Some("values-namespaced.yaml"),
        Some("values-monitoring.yaml"),
    ] {
        let mut args = vec!["lint", "--strict", chart.as_str()];
        let file = values.map(values_file);
        if let Some(file) = &file {
            args.extend(["--values", file.as_str()]);
        }
        let (ok, out, err) = run(&helm, &args);
        assert!(ok, "helm lint {values:?}: {out}{err}");
    }
}

/// `fileDestinations.volume` mounts the OBServers' share (read-only by default) where the operator reads
/// `file://` destinations for second backups, and tells it so; without a volume, neither.
#[test]
fn a_file_share_is_mounted_where_the_operator_reads_file_destinations() {
    let Some(helm) = helm() else { return };
    let container_of =
        |docs: &[Value]| find(docs, "Deployment")[0]["spec"]["template"]["spec"].clone();
    let root_env = |pod: &Value| {
        pod["containers"][0]["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == "FILE_DESTINATION_ROOT")
            .map(|e| e["value"].clone())
    };
    let plain = container_of(&template(&helm, &[]));
    assert_eq!(root_env(&plain), None);
    assert!(plain["volumes"].is_null());
    let nfs = r#"fileDestinations.volume={"nfs":{"server":"nfs.example.com","path":"/backup"}}"#;
    let pod = container_of(&template(&helm, &["--set-json", nfs]));
    assert_eq!(root_env(&pod), Some(Value::from("/mnt/ob-backup")));
    assert_eq!(
        pod["volumes"][0],
        serde_json::json!({"name": "file-destinations", "nfs": {"server": "nfs.example.com", "path": "/backup"}})
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0],
        serde_json::json!({"name": "file-destinations", "mountPath": "/mnt/ob-backup", "readOnly": true})
    );
    let writable = container_of(&template(
        &helm,
        &[
            "--set-json",
            nfs,
            "--set",
            "fileDestinations.readOnly=false,fileDestinations.mountPath=/share",
        ],
    ));
    assert_eq!(root_env(&writable), Some(Value::from("/share")));
    assert_eq!(
        writable["containers"][0]["volumeMounts"][0]["readOnly"],
        false
    );
}

/// `obOperator.admissionPolicy` renders the policy and its binding, only with the integration on, and the
/// binding applies only in the watched namespaces when some are listed (what the policy refuses is tested on
/// the control plane: `ob_operator::the_charts_admission_policy_…`).
#[test]
fn the_admission_policy_is_rendered_when_asked_and_bound_to_the_watched_namespaces() {
    let Some(helm) = helm() else { return };
    let kinds = [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ];
    let rendered = |extra: &[&str]| {
        let docs = template(&helm, extra);
        kinds.map(|kind| find(&docs, kind).into_iter().cloned().collect::<Vec<_>>())
    };
    let none: [Vec<Value>; 2] = [vec![], vec![]];
    assert_eq!(rendered(&[]), none, "off by default");
    let off = rendered(&[
        "--set",
        "obOperator.admissionPolicy=true",
        "--set",
        "obOperator.enabled=false",
    ]);
    assert_eq!(off, none, "nothing without the integration");
    let [policies, bindings] = rendered(&["--set", "obOperator.admissionPolicy=true"]);
    assert_eq!((policies.len(), bindings.len()), (1, 1));
    assert_eq!(
        bindings[0]["spec"]["policyName"],
        policies[0]["metadata"]["name"]
    );
    assert_eq!(
        policies[0]["spec"]["matchConstraints"]["resourceRules"][0]["operations"],
        serde_json::json!(["CREATE"]),
        "ob-operator's own updates of its policies are never refused"
    );
    assert!(bindings[0]["spec"].get("matchResources").is_none());
    let [_, bindings] = rendered(&[
        "--set",
        "obOperator.admissionPolicy=true",
        "--values",
        &values_file("values-namespaced.yaml"),
    ]);
    let selector =
        &bindings[0]["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(selector["values"], serde_json::json!(["team-a", "team-b"]));
}

#[test]
fn the_deployment_is_hardened_and_rbac_is_the_rules_file() {
    let Some(helm) = helm() else { return };
    let docs = template(&helm, &[]);
    let deployment = find(&docs, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");

    // Every namespace: a ClusterRole whose rules are exactly the files the integration tests bind (the
    // operator's, then ob-operator's read-only kinds, on by default).
    let read = |file: &str| -> Vec<Value> {
        serde_norway::from_str(&std::fs::read_to_string(chart().join(file)).expect("rules"))
            .expect("rules parse")
    };
    let mut rules = read("files/operator-rules.yaml");
    rules.extend(read("files/ob-operator-rules.yaml"));
    let rules = Value::Array(rules);
    let cluster_role = find(&docs, "ClusterRole")[0];
    assert_eq!(cluster_role["rules"], rules);
    assert!(find(&docs, "Role").iter().all(|r| {
        r["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("-leader-election"))
    }));
    let env = container["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "WATCH_NAMESPACE" && e["value"] == "")
    );

    // Listed namespaces: a Role and RoleBinding in each, no ClusterRole, the operator told to watch them.
    let docs = template(&helm, &["--values", &values_file("values-namespaced.yaml")]);
    assert!(find(&docs, "ClusterRole").is_empty());
    let roles = find(&docs, "Role");
    for namespace in ["team-a", "team-b"] {
        let watched = roles
            .iter()
            .find(|r| r["metadata"]["namespace"] == namespace)
            .unwrap_or_else(|| panic!("a Role in {namespace}"));
        assert_eq!(watched["rules"], rules);
        let binding = find(&docs, "RoleBinding")
            .into_iter()
            .find(|b| b["metadata"]["namespace"] == namespace)
            .expect("its binding");
        assert_eq!(binding["subjects"][0]["namespace"], "obbackup-system");
    }
    let deployment = find(&docs, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "WATCH_NAMESPACE" && e["value"] == "team-a,team-b")
    );
}

#[test]
fn the_values_schema_refuses_mistakes() {
    let Some(helm) = helm() else { return };
    let chart = chart().display().to_string();
    for (set, expected) in [
        ("replicaCount=two", "replicaCount"),
        ("watchNamespaces={Not_A_Namespace}", "watchNamespaces"),
        ("surprise=1", "surprise"),
        ("logFormat=xml", "logFormat"),
        ("destinationCheckSeconds=5", "destinationCheckSeconds"),
    ] {
        let (ok, _, err) = run(&helm, &["template", "x", &chart, "--set", set]);
        assert!(!ok, "{set} was accepted");
        assert!(err.contains(expected), "{set}: {err}");
    }
}

#[test]
fn deploy_and_the_charts_crds_are_current() {
    let Some(helm) = helm() else { return };
    for entry in std::fs::read_dir(repo().join("crds")).expect("crds") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        assert_eq!(
            std::fs::read_to_string(&path).expect("crd"),
            std::fs::read_to_string(chart().join("crds").join(name)).unwrap_or_default(),
            "charts/ob-backup-operator/crds/{name:?} differs from crds/: run scripts/render-deploy.sh"
        );
    }
    // Render into a copy of the repository's deploy/ and compare.
    let scratch = tempdir();
    let copy = |from: &str| {
        let status = Command::new("cp")
            .args([
                "-r",
                &repo().join(from).display().to_string(),
                &scratch.display().to_string(),
            ])
            .status()
            .expect("cp");
        assert!(status.success());
    };
    for dir in ["charts", "crds", "deploy", "scripts"] {
        copy(dir);
    }
    let status = Command::new(scratch.join("scripts/render-deploy.sh"))
        .arg(&helm)
        .status()
        .expect("render");
    assert!(status.success());
    for file in [
        "deploy/crds.yaml",
        "deploy/operator.yaml",
        "deploy/argocd/argocd-cm-patch.yaml",
    ] {
        assert_eq!(
            std::fs::read_to_string(repo().join(file)).expect("committed"),
            std::fs::read_to_string(scratch.join(file)).expect("rendered"),
            "{file} is stale: run scripts/render-deploy.sh"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "obbackup-chart-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}

/// Sample names the operator exports.
fn exported_metrics() -> BTreeSet<String> {
    ob_backup_operator::metrics::Metrics::default()
        .sample_names()
        .iter()
        .cloned()
        .collect()
}

#[test]
fn alerts_and_the_dashboard_name_only_exported_metrics() {
    let Some(helm) = helm() else { return };
    let exported = exported_metrics();
    assert!(
        exported.contains("obbackup_tasks_finished_total"),
        "{exported:?}"
    );
    let docs = template(&helm, &["--values", &values_file("values-monitoring.yaml")]);
    let rule = find(&docs, "PrometheusRule")[0];
    let rules = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(rules.len(), 13, "one alert per failure mode");
    let dashboard = find(&docs, "ConfigMap")
        .into_iter()
        .find(|c| {
            c["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-dashboard"))
        })
        .expect("dashboard");
    let dashboard: Value = serde_json::from_str(
        dashboard["data"]["ob-backup-operator.json"]
            .as_str()
            .expect("json"),
    )
    .expect("dashboard is JSON");
    let mut expressions: Vec<String> = rules
        .iter()
        .map(|r| r["expr"].as_str().expect("expr").to_string())
        .collect();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            expressions.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for rule in rules {
        let description = rule["annotations"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.len() > 80,
            "{} needs a runbook-style description",
            rule["alert"]
        );
    }
    let mut used = BTreeSet::new();
    for expression in &expressions {
        let mut rest = expression.as_str();
        while let Some(at) = rest.find("obbackup_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            used.insert(name);
        }
    }
    let unknown: Vec<&String> = used.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "not exported by the operator: {unknown:?}"
    );
    assert!(used.len() >= 7, "{used:?}");
}

#[tokio::test]
async fn rendered_manifests_pass_a_server_side_dry_run() {
    let Some(helm) = helm() else { return };
    let Some(plane) = crate::support::cluster::ControlPlane::get() else {
        return;
    };
    let kubectl = plane.kubectl();
    let admin = plane.admin_kubeconfig();
    let apply = |args: &[&str], input: &str| {
        let mut child = Command::new(&kubectl)
            .args(["--kubeconfig", &admin, "apply", "--server-side", "-f", "-"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("kubectl");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    let (ok, out) = apply(
        &[],
        &std::fs::read_to_string(repo().join("tests/chart/monitoring-crds.yaml")).expect("crds"),
    );
    assert!(ok, "{out}");
    let namespace = plane.namespace("chart").await;
    let chart = chart().display().to_string();
    for values in [None, Some("values-monitoring.yaml")] {
        let mut args = vec![
            "template".to_string(),
            "ob-backup-operator".to_string(),
            chart.clone(),
            "--namespace".to_string(),
            namespace.clone(),
            "--skip-crds".to_string(),
        ];
        if let Some(values) = values {
            args.extend(["--values".to_string(), values_file(values)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, rendered, err) = run(&helm, &args);
        assert!(ok, "{err}");
        // Wait until the monitoring CRDs are served before dry-running objects of their kinds.
        let mut attempt = 0;
        loop {
            let (ok, out) = apply(&["--dry-run=server"], &rendered);
            if ok {
                assert!(out.contains("serverside-applied (server dry run)"), "{out}");
                break;
            }
            attempt += 1;
            assert!(
                attempt < 50 && out.contains("no matches for kind"),
                "dry run {values:?}: {out}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // `kubectl apply -f deploy/` as the README says (the test control plane already has the
    // obbackup-system namespace, so the dry run can place objects in it).
    for file in ["deploy/crds.yaml", "deploy/operator.yaml"] {
        let (ok, out) = apply(
            &["--dry-run=server"],
            &std::fs::read_to_string(repo().join(file)).expect("deploy file"),
        );
        assert!(ok, "{file}: {out}");
        assert!(
            out.contains("deployment.apps/ob-backup-operator") || file.ends_with("crds.yaml"),
            "{out}"
        );
    }
    crate::support::cluster::delete_namespace(&plane.admin().await, &namespace).await;
}

#[tokio::test]
async fn helm_installs_into_a_clean_namespace_and_uninstalls_cleanly() {
    let Some(helm) = helm() else { return };
    let Some(plane) = crate::support::cluster::ControlPlane::get() else {
        return;
    };
    let namespace = plane.namespace("helm").await;
    let admin = plane.admin_kubeconfig();
    let release = format!("it-{}", &namespace[namespace.len() - 8..]);
    let chart = chart().display().to_string();
    let (ok, out, err) = run(
        &helm,
        &[
            "install",
            &release,
            &chart,
            "--namespace",
            &namespace,
            "--kubeconfig",
            &admin,
            "--set",
            "image.repository=example.invalid/ob-backup-operator",
        ],
    );
    assert!(ok, "helm install: {out}{err}");
    assert!(
        out.contains("STATUS: deployed") && out.contains("It watches every namespace"),
        "{out}"
    );
    let client = plane.admin().await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), &namespace);
    let deployment = deployments
        .get(&format!("{release}-ob-backup-operator"))
        .await
        .expect("the Deployment");
    let pod = deployment.spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(format!("{release}-ob-backup-operator").as_str())
    );
    let roles: kube::Api<k8s_openapi::api::rbac::v1::ClusterRole> = kube::Api::all(client.clone());
    let role_name = format!("{release}-ob-backup-operator");
    assert!(roles.get_opt(&role_name).await.expect("get").is_some());
    let (ok, out, err) = run(
        &helm,
        &[
            "uninstall",
            &release,
            "--namespace",
            &namespace,
            "--kubeconfig",
            &admin,
        ],
    );
    assert!(ok, "helm uninstall: {out}{err}");
    assert!(
        roles.get_opt(&role_name).await.expect("get").is_none(),
        "the ClusterRole goes with the release"
    );
    crate::support::cluster::delete_namespace(&client, &namespace).await;
}

fn promtool() -> Option<PathBuf> {
    crate::support::tools::built("OBBACKUP_PROMTOOL", "promtool")
}

/// Every alert's expression, `for` and labels, evaluated by Prometheus's own `promtool test rules` on series
/// shaped like the operator's (tests/alerts/rules_test.yaml): each fires when it should, and not before.
#[test]
fn every_alert_fires_when_it_should_under_promtool() {
    let (Some(helm), Some(promtool)) = (helm(), promtool()) else {
        return;
    };
    let docs = template(&helm, &["--set", "prometheusRule.enabled=true"]);
    let mut groups = find(&docs, "PrometheusRule")[0]["spec"]["groups"].clone();
    for group in groups.as_array_mut().into_iter().flatten() {
        for rule in group["rules"].as_array_mut().into_iter().flatten() {
            if let Some(rule) = rule.as_object_mut() {
                rule.remove("annotations");
            }
        }
    }
    let dir = tempdir();
    let rules = serde_norway::to_string(&serde_json::json!({ "groups": groups })).expect("YAML");
    std::fs::write(dir.join("rules.yaml"), rules).expect("write rules");
    std::fs::copy(
        repo().join("tests/alerts/rules_test.yaml"),
        dir.join("rules_test.yaml"),
    )
    .expect("copy the rule tests");
    let output = Command::new(&promtool)
        .args(["test", "rules", "rules_test.yaml"])
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(
        output.status.success(),
        "promtool test rules failed:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
