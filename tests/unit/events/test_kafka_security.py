"""Kafka security settings for real clusters: SASL/SCRAM over TLS and mutual TLS reach every
producer, consumer and admin client the library makes, and a combination that cannot work (or
would connect with less protection than configured) stops the service at start-up with a
message naming the variables to fix."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from mc_events import kafka
from mc_events.kafka import KafkaSettings


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, and a client certificate it signed with its key (plain and password-protected)."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("mc-test-ca", ca_key, "mc-test-ca", ca_key, ca=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("registry", client_key, "mc-test-ca", ca_key, ca=False)
    files = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "cert": client.public_bytes(serialization.Encoding.PEM),
        "key": client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "locked-key": client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        ),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def scram(**overrides) -> KafkaSettings:
    fields = {
        "bootstrap_servers": "kafka-0.example:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "registry",
        "sasl_password": "pw-from-a-secret",
        **overrides,
    }
    return KafkaSettings(**fields)


def clients_of(settings: KafkaSettings):
    """The aiokafka network client inside each kind of client the library makes."""
    producer = kafka.producer(settings)
    consumer = kafka.consumer(settings, "registry.credentials", group_id="registry")
    admin = kafka.admin(settings)
    return {"producer": producer.client, "consumer": consumer._client, "admin": admin._client}


# -- the settings become the client options ---------------------------------------------------


def test_local_brokers_default_to_plaintext_without_credentials():
    options = KafkaSettings()._common()
    assert options["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in options
    assert "sasl_mechanism" not in options


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_scram_over_tls_reaches_every_producer_consumer_and_admin(mechanism, pki):
    settings = scram(sasl_mechanism=mechanism, ssl_cafile=pki["ca"])
    for kind, client in clients_of(settings).items():
        assert client._security_protocol == "SASL_SSL", kind
        assert client._sasl_mechanism == mechanism, kind
        assert (client._sasl_plain_username, client._sasl_plain_password) == (
            "registry",
            "pw-from-a-secret",
        ), kind
        context = client._ssl_context
        assert isinstance(context, ssl.SSLContext), kind
        assert context.verify_mode is ssl.CERT_REQUIRED, kind
        assert context.check_hostname, kind
        assert [c["subject"] for c in context.get_ca_certs()] == [
            ((("commonName", "mc-test-ca"),),)
        ]


async def test_mutual_tls_loads_the_client_certificate_for_every_client(pki, monkeypatch):
    loaded: list[tuple[str, str | None]] = []
    load_cert_chain = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        loaded.append((str(certfile), str(keyfile) if keyfile else None))
        return load_cert_chain(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    settings = KafkaSettings(
        security_protocol="SSL",
        ssl_cafile=pki["ca"],
        ssl_certfile=pki["cert"],
        ssl_keyfile=pki["key"],
    )
    loaded.clear()  # the check at start-up loaded it once already
    clients = clients_of(settings)
    for kind, client in clients.items():
        assert client._security_protocol == "SSL", kind
        assert isinstance(client._ssl_context, ssl.SSLContext), kind
    assert loaded == [(str(pki["cert"]), str(pki["key"]))] * len(clients)


def test_an_encrypted_client_key_is_opened_with_its_password(pki):
    settings = KafkaSettings(
        security_protocol="SSL",
        ssl_certfile=pki["cert"],
        ssl_keyfile=pki["locked-key"],
        ssl_key_password="s3cret",
    )
    assert isinstance(settings._common()["ssl_context"], ssl.SSLContext)


def test_security_settings_come_from_the_environment_and_the_password_stays_secret(
    pki, monkeypatch
):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "compensation")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw-from-a-secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki["ca"]))
    settings = KafkaSettings()
    assert settings._common()["sasl_plain_username"] == "compensation"
    assert "pw-from-a-secret" not in repr(settings)
    assert "pw-from-a-secret" not in settings.model_dump_json()


# -- bad combinations stop the service at start-up --------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sasl_mechanism": None}, "needs KAFKA_SASL_MECHANISM"),
        ({"sasl_password": None}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"sasl_username": ""}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
            "password in clear",
        ),
        ({"security_protocol": "SSL"}, "does not authenticate with SASL"),
        ({"security_protocol": "PLAINTEXT"}, "does not authenticate with SASL"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ],
)
def test_incoherent_sasl_settings_are_refused_naming_what_to_fix(fields, message):
    with pytest.raises(ValidationError, match=message):
        scram(**fields)


def test_tls_files_are_refused_where_they_would_be_ignored_or_cannot_be_read(pki, tmp_path):
    with pytest.raises(ValidationError, match=r"KAFKA_SSL_CAFILE set but .*PLAINTEXT"):
        KafkaSettings(ssl_cafile=pki["ca"])
    with pytest.raises(ValidationError, match="KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE"):
        KafkaSettings(security_protocol="SSL", ssl_keyfile=pki["key"])
    with pytest.raises(ValidationError, match="no such file"):
        scram(ssl_cafile=tmp_path / "missing-ca.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ValidationError, match="cannot load the Kafka TLS files"):
        KafkaSettings(security_protocol="SSL", ssl_cafile=garbage)
    with pytest.raises(ValidationError, match="cannot load the Kafka TLS files"):
        KafkaSettings(
            security_protocol="SSL", ssl_certfile=pki["cert"], ssl_keyfile=pki["locked-key"]
        )
    with pytest.raises(ValidationError, match="cannot load the Kafka TLS files"):
        KafkaSettings(
            security_protocol="SSL",
            ssl_certfile=pki["cert"],
            ssl_keyfile=pki["locked-key"],
            ssl_key_password="wrong",
        )


def test_a_service_with_bad_kafka_security_settings_does_not_start(monkeypatch):
    from registry.bootstrap import build
    from registry.config import Settings

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        build(Settings(database_url="postgresql://unused/registry"))
