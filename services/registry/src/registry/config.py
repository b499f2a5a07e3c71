"""Registry settings, from ``REGISTRY_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mc_platform.service import ServiceSettings, public_url_problem


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/registry"
    port: int = 8003
    public_base_url: str = "http://127.0.0.1:8003"
    """Where verifiers reach this registry: credential, achievement, issuer and status-list
    URLs on issued credentials are built from it (they cannot change after issuance)."""
    evidence_base_url: str = "http://127.0.0.1:8001"
    """Where the gated evidence lives (the enrollment service); credentials only link to it."""
    issuer_name: str = "State Department of Education"
    """The credential issuer: the state, which runs the registry."""
    signing_kek: SecretStr | None = None
    """Key-encryption key (32 bytes, base64) sealing the issuer's private signing keys in the
    database; or ``signing_kek_file``. Neither: a public development KEK (warned)."""
    signing_kek_file: str | None = None
    """A file holding ``signing_kek`` (a mounted secret)."""
    credential_validity_days: int | None = Field(default=None, ge=1)
    """Credentials expire (``validUntil``) this many days after the award; None: never."""
    signing_interval_seconds: float = Field(default=0.25, gt=0)
    """How often ``serve`` signs the credentials awards recorded without a proof."""
    signing_batch: int = Field(default=20, ge=1, le=500)
    """Credentials signed per transaction by the signer worker."""
    proof_cache_size: int = Field(default=65_536, ge=0)
    """Verified proofs and schema results remembered per process (0: off)."""
    suspension_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    """How often ``serve`` lifts suspensions whose planned end (``until``) has passed."""
    status_fetch_allowed_hosts: str = ""
    """Hosts (comma-separated) whose status lists the registry fetches to check credentials
    issued elsewhere (verification, imports, import rechecks); empty: any host. Set it in
    production: the public verifier otherwise fetches any http(s) URL a posted credential
    names (bounded in time and size, never followed through redirects)."""
    status_fetch_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    """Time limit of one status list fetch (connecting and reading)."""
    status_fetch_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    """The largest status list credential fetched (bytes)."""
    import_recheck_interval_seconds: float = Field(default=3600.0, gt=0)
    """How often ``serve`` rechecks the issuer's status of imported credentials."""
    import_recheck_batch: int = Field(default=100, ge=1, le=10_000)
    """How many imports one recheck pass reads (those checked longest ago first)."""
    district_fanout: bool = True
    """Run the district fan-out in ``serve``: ``registry.credentials`` republished to
    ``district.<id>.awards`` and ``district.<id>.awards.state`` (README, "District streams")."""

    def production_problems(self) -> list[str]:
        """Besides ``AUTH_*``: public https URLs (they are written into every credential),
        a real signing KEK, and an allow-list of status list hosts."""
        problems = super().production_problems()
        for name in ("public_base_url", "evidence_base_url"):
            problem = public_url_problem(self.env_name(name), getattr(self, name))
            if problem:
                problems.append(problem)
        if self.signing_kek is None and not self.signing_kek_file:
            problems.append(
                f"{self.env_name('signing_kek')} / {self.env_name('signing_kek_file')} is not "
                "set: the issuer's signing keys would be sealed with the public development KEK"
            )
        if not self.status_fetch_allowed_hosts.strip():
            problems.append(
                f"{self.env_name('status_fetch_allowed_hosts')} is empty: the public verifier "
                "would fetch status lists from any host a posted credential names"
            )
        return problems
