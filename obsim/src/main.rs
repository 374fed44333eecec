//! `obsim`: serve one simulated OceanBase cluster on a loopback port.

use std::{
    net::SocketAddr,
    process::ExitCode,
    sync::{Arc, Mutex},
};

use clap::Parser;
use obsim::{
    clock::Clock,
    model::{Cluster, Version},
};

/// A simulator of OceanBase 4.x's backup and restore SQL interface, over the MySQL protocol.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (loopback only is recommended).
    #[arg(long, default_value = "127.0.0.1:2881")]
    listen: SocketAddr,
    /// Cluster name.
    #[arg(long, default_value = "obcluster")]
    cluster: String,
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
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("obsim: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "obsim: cluster {} (OceanBase {version}) listening on {}",
        args.cluster, args.listen
    );
    match obsim::wire::serve(listener, Arc::new(Mutex::new(cluster))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("obsim: {e}");
            ExitCode::FAILURE
        }
    }
}
