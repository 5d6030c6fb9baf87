//! Test keys (generated with aws-lc-rs, tokens signed here) and a local JWKS server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A signing key with its kid and public JWK.
pub struct TestKey {
    pub kid: String,
    pair: Pair,
}

impl TestKey {
    /// A fresh RSA-2048 key (RS256).
    pub fn rsa(kid: &str) -> Self {
        TestKey {
            kid: kid.to_owned(),
            pair: Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
        }
    }

    /// A fresh P-256 key (ES256).
    pub fn ec(kid: &str) -> Self {
        TestKey {
            kid: kid.to_owned(),
            pair: Pair::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()),
        }
    }

    /// The JOSE algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RS256",
            Pair::Ec(_) => "ES256",
        }
    }

    /// The public JWK, as tessera and Cognito publish it.
    pub fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Rsa(pair) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({"alg": "RS256", "e": b64(&components.e), "kid": self.kid, "kty": "RSA",
                       "n": b64(&components.n), "use": "sig"})
            }
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({"alg": "ES256", "crv": "P-256", "kid": self.kid, "kty": "EC",
                       "x": b64(&point[1..33]), "y": b64(&point[33..65]), "use": "sig"})
            }
        }
    }

    /// The public key as tessera's JWKS endpoint would hand it to an attacker: the DER
    /// bytes (used as an HMAC secret in the key-confusion attack).
    pub fn public_der(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            Pair::Ec(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `header.payload` with this key.
    pub fn sign_raw(&self, signing_input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut sig)
                    .unwrap();
                sig
            }
            Pair::Ec(pair) => pair.sign(&rng, signing_input).unwrap().as_ref().to_vec(),
        }
    }

    /// A token with this header and payload, signed by this key.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.sign_raw(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// A token with the Cognito header (`kid` first, then `alg`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"kid": self.kid, "alg": self.alg()}), claims)
    }
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

pub const CLIENT: &str = "client0000000000000000001";

/// Claims of a tessera/Cognito access token issued now by `iss`.
pub fn access_claims(iss: &str) -> Value {
    let now = now_secs();
    json!({
        "sub": "7f1a7c1e-5d1b-4a55-9b3e-1b2a3c4d5e6f",
        "iss": iss,
        "client_id": CLIENT,
        "origin_jti": "0d6cbbf2-7f4c-4a4a-9a59-4f7a4c1b8e21",
        "event_id": "a3b0d7a6-7c0e-4bda-8d0f-0c8f3b0a9c11",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "3f0b6b1c-2e1d-4c0f-b6a4-2a3c6f5e9d10",
        "username": "alice",
        "cognito:groups": ["admin", "staff"],
    })
}

/// Claims of a tessera/Cognito ID token issued now by `iss`.
pub fn id_claims(iss: &str) -> Value {
    let now = now_secs();
    json!({
        "sub": "7f1a7c1e-5d1b-4a55-9b3e-1b2a3c4d5e6f",
        "email_verified": true,
        "iss": iss,
        "cognito:username": "alice",
        "origin_jti": "0d6cbbf2-7f4c-4a4a-9a59-4f7a4c1b8e21",
        "aud": CLIENT,
        "event_id": "a3b0d7a6-7c0e-4bda-8d0f-0c8f3b0a9c11",
        "token_use": "id",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "9c2f6e55-55b0-4a3e-8a1d-6f0e2d4c3b21",
        "email": "alice@example.com",
    })
}

/// Sets one claim of a JSON object.
pub fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

/// Removes one claim.
pub fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

struct ServerState {
    jwks: Mutex<Value>,
    issuer: Mutex<String>,
    /// The `jwks_uri` of the discovery document (default `{issuer}/.well-known/jwks.json`).
    discovery_jwks_uri: Mutex<Option<String>>,
    /// When set, the JWKS routes answer `302 Found` to this location.
    jwks_redirect: Mutex<Option<String>>,
    /// When set, the discovery route answers `302 Found` to this location.
    discovery_redirect: Mutex<Option<String>>,
    fetches: AtomicUsize,
    discoveries: AtomicUsize,
    down: AtomicBool,
    delay: Mutex<Duration>,
    paths: Mutex<Vec<String>>,
}

/// A JWKS server on 127.0.0.1:0 that counts its requests and can be taken down.
#[derive(Clone)]
pub struct JwksServer {
    pub base: String,
    state: Arc<ServerState>,
}

async fn serve_jwks(State(state): State<Arc<ServerState>>, uri: axum::http::Uri) -> Response {
    state.paths.lock().unwrap().push(uri.to_string());
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(location) = state.jwks_redirect.lock().unwrap().clone() {
        return redirect(&location);
    }
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let body = state.jwks.lock().unwrap().to_string();
    ([("content-type", "application/json")], body).into_response()
}

async fn serve_discovery(State(state): State<Arc<ServerState>>) -> Response {
    state.discoveries.fetch_add(1, Ordering::SeqCst);
    if let Some(location) = state.discovery_redirect.lock().unwrap().clone() {
        return redirect(&location);
    }
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let issuer = state.issuer.lock().unwrap().clone();
    let jwks_uri = state
        .discovery_jwks_uri
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
    let body = json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [("location", location.to_owned())]).into_response()
}

/// The host name of the https test servers; clients reach it through [`JwksServer::client`].
pub const TLS_HOST: &str = "issuer.test";

/// A TCP listener that completes a TLS handshake (self-signed certificate for
/// [`TLS_HOST`], generated once with openssl for these tests) before handing the stream
/// to axum.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(include_bytes!("tls-cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("tls-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

impl JwksServer {
    /// A server on `http://127.0.0.1:<port>`.
    pub async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = Self::new(jwks, format!("http://{addr}"));
        let app = server.router();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    /// A server on `https://issuer.test:<port>` (listening on 127.0.0.1); only a client
    /// from [`JwksServer::client`] reaches it.
    pub async fn start_tls(jwks: Value) -> Self {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = tcp.local_addr().unwrap();
        let server = Self::new(jwks, format!("https://{TLS_HOST}:{}", addr.port()));
        let app = server.router();
        let listener = TlsListener {
            tcp,
            acceptor: tls_acceptor(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    fn new(jwks: Value, base: String) -> Self {
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            issuer: Mutex::new(base.clone()),
            discovery_jwks_uri: Mutex::new(None),
            jwks_redirect: Mutex::new(None),
            discovery_redirect: Mutex::new(None),
            fetches: AtomicUsize::new(0),
            discoveries: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            delay: Mutex::new(Duration::ZERO),
            paths: Mutex::new(Vec::new()),
        });
        JwksServer { base, state }
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/jwks.json", get(serve_jwks))
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .with_state(self.state.clone())
    }

    /// An HTTP client that reaches the https test servers ([`TLS_HOST`] resolves to
    /// 127.0.0.1, the port comes from the URL, the self-signed certificate is accepted) and
    /// follows no redirects, like the verifier's own client.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .resolve(TLS_HOST, SocketAddr::from(([127, 0, 0, 1], 0)))
            .build()
            .unwrap()
    }

    /// The `jwks_uri` the discovery document names (default `{issuer}/.well-known/jwks.json`).
    pub fn set_discovery_jwks_uri(&self, jwks_uri: &str) {
        *self.state.discovery_jwks_uri.lock().unwrap() = Some(jwks_uri.to_owned());
    }

    /// Makes the JWKS routes answer `302 Found` to `location` (still counted as fetches).
    pub fn redirect_jwks_to(&self, location: &str) {
        *self.state.jwks_redirect.lock().unwrap() = Some(location.to_owned());
    }

    /// Makes the discovery route answer `302 Found` to `location` (still counted).
    pub fn redirect_discovery_to(&self, location: &str) {
        *self.state.discovery_redirect.lock().unwrap() = Some(location.to_owned());
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    /// The `issuer` the discovery document names (default: the base URL).
    pub fn set_discovery_issuer(&self, issuer: &str) {
        *self.state.issuer.lock().unwrap() = issuer.to_owned();
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// JWKS requests received so far.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn discoveries(&self) -> usize {
        self.state.discoveries.load(Ordering::SeqCst)
    }

    /// The request paths (with query) the JWKS route received.
    pub fn paths(&self) -> Vec<String> {
        self.state.paths.lock().unwrap().clone()
    }

    /// Waits until the server has received `n` JWKS requests and the cache had time to
    /// install the answer.
    pub async fn wait_for_fetches(&self, n: usize) {
        for _ in 0..500 {
            if self.fetches() >= n {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} JWKS fetches, saw {}", self.fetches());
    }
}
