"""Settings: read once at start-up from the environment and the community TOML file."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from bot.services.street import CommunityFile

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_FILE_BASE_URL = "https://api.telegram.org/file/bot"
DEFAULT_DB_PATH = "data/gridbot.sqlite3"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "examples" / "community.toml"

_TOKEN_SHAPE = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{20,}$")
_PLACEHOLDERS = {"", "token", "your_token", "your-token", "changeme", "change-me", "xxx", "todo"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# Telegram's rule for setWebhook's secret_token is 1-256 of these; 16 is our floor for guessing.
_WEBHOOK_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_WEBHOOK_URL_SHAPE = re.compile(r"^https://[^\s/?#]+(/[^\s?#]*)?$")
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1"
# Mainland servers reach Telegram only through a proxy: HTTP(S) or SOCKS5 (socks5h resolves
# names on the proxy's side, which a DNS-poisoned network needs).
_PROXY_SHAPE = re.compile(
    r"^(?P<scheme>https?|socks5h?)://(?:[^\s@/]+@)?[^\s@/:]+(?::\d{1,5})?/?$"
)
DEFAULT_WEBHOOK_PORT = 8443


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the secret value (only for the HTTP layer)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """Where Telegram posts updates (url) and where this process listens behind the proxy."""

    url: str
    listen: str
    port: int
    secret: Secret

    @property
    def path(self) -> str:
        """Return the URL's path, which the reverse proxy forwards unchanged."""
        rest = self.url.split("://", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


@dataclass(frozen=True, slots=True)
class Settings:
    token: Secret
    db_path: str
    api_base_url: str
    file_base_url: str
    timezone: ZoneInfo
    log_level: str
    config_path: Path
    config: Mapping[str, Any] = field(repr=False)
    # The one community file as read (None for a folder): its config and its digest.
    community_file: CommunityFile | None = field(default=None, repr=False)
    webhook: WebhookSettings | None = None
    send_retry_s: float = 6 * 3600.0  # how long a transient delivery failure is retried
    send_backoff_s: float = 0.5  # the first wait before a retry (doubling, with jitter)
    proxy: Secret | None = None  # may hold a password, so it never shows itself
    # Tests only (GRIDBOT_TEST_CLOCK_SHIFT_MINUTES): the bot's clock runs this far ahead of the
    # real one, so a test can let a deadline pass in a real process. Never set in production.
    clock_shift_s: float = 0.0
    # How often the community files are read again (GRIDBOT_RELOAD_S): a community added,
    # changed or removed applies within this long, without a restart.
    reload_s: float = 10.0

    @property
    def is_folder(self) -> bool:
        """Tell whether GRIDBOT_CONFIG names a folder of community files (a street office)."""
        return self.config_path.is_dir()

    @property
    def tz_name(self) -> str:
        return str(self.timezone.key)


def check_token(value: str) -> Secret:
    """Refuse a missing, placeholder or malformed bot token."""
    token = value.strip()
    if token.lower().strip("<>") in _PLACEHOLDERS or "..." in token:
        raise SettingsError(
            "GRIDBOT_TOKEN: 未设置或仍是占位符 (missing or a placeholder); "
            "get a token from @BotFather"
        )
    if not _TOKEN_SHAPE.match(token):
        raise SettingsError("GRIDBOT_TOKEN: 格式不对 (not a bot token of the form 123456:ABC-...)")
    return Secret(token)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the community TOML file, naming the file on any problem."""
    return dict(read_community(path).config)


def read_community(path: Path) -> CommunityFile:
    """Read the community TOML file once (its settings and its community), naming the file."""
    from bot.services.street import CommunityFile

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"GRIDBOT_CONFIG: 找不到社区配置文件 {path}") from None
    except OSError as exc:
        raise SettingsError(f"GRIDBOT_CONFIG: 无法读取社区配置文件 {path}: {exc}") from None
    try:
        return CommunityFile.parse(path, raw)
    except UnicodeDecodeError as exc:
        raise SettingsError(f"GRIDBOT_CONFIG: 无法读取社区配置文件 {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"GRIDBOT_CONFIG: {path} 不是合法的 TOML: {exc}") from None


def _base_url(value: str, name: str) -> str:
    url = value.strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise SettingsError(f"{name}: 不是 http(s) 地址: {url!r}")
    return url


def check_proxy(value: str) -> Secret | None:
    """Return GRIDBOT_PROXY (http://, https://, socks5://, socks5h://) or None when unset."""
    url = value.strip()
    if not url:
        return None
    match = _PROXY_SHAPE.match(url)
    # The URL may carry a password: the message shows only its scheme.
    if match is None:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        raise SettingsError(
            "GRIDBOT_PROXY: 不是代理地址 (expected http://host:port or socks5://host:port"
            + (f", got a {scheme}:// address)" if scheme else ")")
        )
    if match.group("scheme").startswith("socks"):
        try:
            import socksio  # noqa: F401  (httpx speaks SOCKS only with it)
        except ImportError:
            raise SettingsError(
                "GRIDBOT_PROXY: SOCKS 代理需要安装 socks 支持 "
                "(pip install 'python-telegram-bot[socks]')"
            ) from None
    return Secret(url)


def load_webhook_settings(env: Mapping[str, str]) -> WebhookSettings:
    """Read the webhook settings (`gridbot run --webhook`); raise SettingsError naming one."""
    url = env.get("GRIDBOT_WEBHOOK_URL", "").strip()
    if not url:
        raise SettingsError(
            "GRIDBOT_WEBHOOK_URL: 未设置 (required with --webhook): the public https URL "
            "Telegram posts updates to, e.g. https://bot.example.org/telegram"
        )
    if not _WEBHOOK_URL_SHAPE.match(url):
        raise SettingsError(
            f"GRIDBOT_WEBHOOK_URL: 不是 https 地址 (Telegram posts only to https): {url!r}"
        )
    listen = env.get("GRIDBOT_WEBHOOK_LISTEN", DEFAULT_WEBHOOK_LISTEN).strip()
    if not listen or any(c.isspace() or c == "/" for c in listen):
        raise SettingsError(f"GRIDBOT_WEBHOOK_LISTEN: 不是监听地址 (e.g. 127.0.0.1): {listen!r}")
    port_raw = env.get("GRIDBOT_WEBHOOK_PORT", str(DEFAULT_WEBHOOK_PORT)).strip()
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise SettingsError(f"GRIDBOT_WEBHOOK_PORT: 不是 1-65535 的端口号: {port_raw!r}")
    # The secret's value never appears in a message: a typo would still leak most of it.
    secret = env.get("GRIDBOT_WEBHOOK_SECRET", "").strip()
    if not secret:
        raise SettingsError(
            "GRIDBOT_WEBHOOK_SECRET: 未设置 (required with --webhook); make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if not _WEBHOOK_SECRET_SHAPE.match(secret):
        raise SettingsError(
            "GRIDBOT_WEBHOOK_SECRET: 须为 16-256 个 A-Z a-z 0-9 _ - 字符 "
            "(Telegram's secret_token alphabet)"
        )
    return WebhookSettings(url=url, listen=listen, port=int(port_raw), secret=Secret(secret))


def load_settings(
    env: Mapping[str, str] | None = None, *, require_token: bool = True, webhook: bool = False
) -> Settings:
    """Build Settings from the environment; raise SettingsError naming the bad setting."""
    env = os.environ if env is None else env
    token_raw = env.get("GRIDBOT_TOKEN", "")
    token = check_token(token_raw) if require_token else Secret(token_raw.strip())

    api_base = _base_url(
        env.get("GRIDBOT_API_BASE_URL", DEFAULT_API_BASE_URL), "GRIDBOT_API_BASE_URL"
    )
    default_file = (
        DEFAULT_FILE_BASE_URL
        if "GRIDBOT_API_BASE_URL" not in env
        else re.sub(r"/bot$", "/file/bot", api_base.rstrip("/"))
    )
    file_base = _base_url(env.get("GRIDBOT_FILE_BASE_URL", default_file), "GRIDBOT_FILE_BASE_URL")

    tz_name = env.get("GRIDBOT_TZ", "Asia/Shanghai").strip()
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"GRIDBOT_TZ: 未知时区 {tz_name!r} (e.g. Asia/Shanghai)") from None

    level = env.get("GRIDBOT_LOG_LEVEL", "INFO").strip().upper()
    if level not in _LOG_LEVELS:
        raise SettingsError(f"GRIDBOT_LOG_LEVEL: {level!r} 不是 {sorted(_LOG_LEVELS)} 之一")

    db_path = env.get("GRIDBOT_DB", DEFAULT_DB_PATH).strip()
    if not db_path:
        raise SettingsError("GRIDBOT_DB: 数据库路径为空")

    config_path = Path(env.get("GRIDBOT_CONFIG", str(DEFAULT_CONFIG_PATH))).expanduser()
    # A folder holds a street office's communities, one file each (bot/services/street.py
    # reads them when the bot starts); a file is one community, read here, once: the checks
    # and the bot's start use this reading (a reload reads it again to see it change).
    community_file = None if config_path.is_dir() else read_community(config_path)
    config = {} if community_file is None else community_file.config
    webhook_settings = load_webhook_settings(env) if webhook else None
    send_retry_s = _positive(env, "GRIDBOT_SEND_RETRY_HOURS", 6.0) * 3600.0
    send_backoff_s = _positive(env, "GRIDBOT_SEND_BACKOFF_S", 0.5)
    proxy = check_proxy(env.get("GRIDBOT_PROXY", ""))
    reload_s = _positive(env, "GRIDBOT_RELOAD_S", 10.0)
    clock_shift_s = 0.0
    if env.get("GRIDBOT_TEST_CLOCK_SHIFT_MINUTES", "").strip():
        clock_shift_s = _positive(env, "GRIDBOT_TEST_CLOCK_SHIFT_MINUTES", 0.0) * 60.0

    return Settings(
        token=token,
        db_path=db_path,
        api_base_url=api_base,
        file_base_url=file_base,
        timezone=timezone,
        log_level=level,
        config_path=config_path,
        config=config,
        community_file=community_file,
        webhook=webhook_settings,
        send_retry_s=send_retry_s,
        send_backoff_s=send_backoff_s,
        proxy=proxy,
        clock_shift_s=clock_shift_s,
        reload_s=reload_s,
    )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(f"{name}: 须为正数 (a positive number): {raw!r}")
    return value


def configure_logging(level: str) -> None:
    """Log to stderr; httpx's request lines carry the token in the URL, so keep them quiet."""
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries()
    from bot import logfilter

    logfilter.install()  # no resident's words or numbers in the log, at any level


def quiet_libraries() -> None:
    """Keep libraries from logging tokens (in URLs) or residents' messages (in updates)."""
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # python-telegram-bot logs whole updates and request bodies at DEBUG.
    logging.getLogger("telegram").setLevel(logging.INFO)
