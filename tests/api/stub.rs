//! A stand-in HTTP server for tests (webhook receivers, token endpoints, bare targets).

use actix_web::{web, App, HttpServer};

/// A small HTTP server on 127.0.0.1:0 standing in for something the engine talks to
/// (a webhook receiver, a token endpoint, a bare SCIM target); stopped when dropped.
pub struct Stub {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
}

impl Stub {
    pub fn start(workers: usize, routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static) -> Stub {
        let server =
            HttpServer::new(move || App::new().configure(routes.clone())).workers(workers).bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Stub { address, handle }
    }

    /// The same over HTTPS with the certificate in `tls`.
    pub fn start_https(
        tls: &scimlab::config::TlsFiles,
        routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    ) -> Stub {
        let config = scimlab::http::tls::server_config(&tls.cert, &tls.key).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("https://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .listen_rustls_0_23(listener, config)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Stub { address, handle }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}
