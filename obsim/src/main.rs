//! `obsim`: serve a simulated OceanBase cluster on a loopback port, plus the control API.

use std::{net::SocketAddr, process::ExitCode};

use clap::Parser;
use obsim::{
    clock::Clock,
    model::{Cluster, MAX_CLUSTER_ID, Version},
    sim::{Simulator, TlsIdentity},
};

/// A simulator of OceanBase 4.x's backup, archive, cleanup and restore SQL interface, over the MySQL
/// protocol. Connect as root@sys with the mysql client or any MySQL driver; drive time and faults through
/// the control API (`curl http://<control>/` lists its routes). More clusters can be added there.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address of the first cluster's MySQL protocol (loopback only is recommended; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:2881")]
    listen: SocketAddr,
    /// Address of the control API (HTTP, JSON).
    #[arg(long, default_value = "127.0.0.1:2886")]
    control: SocketAddr,
    /// Cluster name.
    #[arg(long, default_value = "obcluster")]
    cluster: String,
    /// The cluster's id, as GV$OB_PARAMETERS' cluster_id shows it (default: derived from the name, stable:
    /// 1 + FNV-1a-64(name) mod 4294901759).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=MAX_CLUSTER_ID))]
    cluster_id: Option<i64>,
    /// OceanBase version profile: 4.2.5 or 4.4.1.
    #[arg(long, default_value = "4.4.1")]
    ob_version: String,
    /// Password of root@sys.
    #[arg(long, env = "OBSIM_PASSWORD")]
    password: String,
    /// User tenants to create, as name[:data bytes], e.g. tenant1:10737418240.
    #[arg(long = "tenant", value_name = "NAME[:BYTES]")]
    tenants: Vec<String>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// PEM certificate (chain) to offer TLS with; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// The directory standing for the share every OBServer mounts: backup sets on `file:///p` destinations
    /// are written to `<dir>/p`. Without it nothing is written.
    #[arg(long)]
    file_root: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let Some(version) = Version::parse(&args.ob_version) else {
        eprintln!("obsim: unknown version {}", args.ob_version);
        return ExitCode::from(2);
    };
    let mut cluster = Cluster::new(
        &args.cluster,
        version,
        &args.password,
        Clock::new(jiff::Timestamp::now(), args.speed),
    );
    cluster.files = args.file_root.map(obsim::model::files::Files::new);
    if let Some(id) = args.cluster_id {
        cluster.cluster_id = id;
    }
    for spec in &args.tenants {
        let (name, bytes) = spec.split_once(':').unwrap_or((spec, "10737418240"));
        let Ok(bytes) = bytes.parse() else {
            eprintln!("obsim: bad tenant size in {spec}");
            return ExitCode::from(2);
        };
        if let Err(e) = cluster.add_user_tenant(name, bytes) {
            eprintln!("obsim: {e}");
            return ExitCode::from(2);
        }
    }
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match (std::fs::read(cert), std::fs::read(key)) {
            (Ok(cert_pem), Ok(key_pem)) => Some(TlsIdentity { cert_pem, key_pem }),
            _ => {
                eprintln!("obsim: cannot read --tls-cert or --tls-key");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let simulator = Simulator::new();
    let node = match simulator
        .start_with_tls(cluster, args.listen, identity)
        .await
    {
        Ok(node) => node,
        Err(e) => {
            eprintln!("obsim: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let control = match tokio::net::TcpListener::bind(args.control).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("obsim: cannot listen on {}: {e}", args.control);
            return ExitCode::FAILURE;
        }
    };
    let control_addr = control.local_addr().unwrap_or(args.control);
    eprintln!(
        "obsim: cluster {} (OceanBase {version}) listening on {}; control API on http://{control_addr}",
        args.cluster, node.addr
    );
    tokio::select! {
        served = obsim::control::serve(control, simulator) => {
            if let Err(e) = served {
                eprintln!("obsim: control API: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        () = shutdown() => ExitCode::SUCCESS,
    }
}

/// SIGINT or SIGTERM.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
