# GridBot (网格助手): long polling against the Telegram Bot API; SQLite in a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRIDBOT_DB=/data/gridbot.sqlite3 \
    # The made-up example: `gridbot run` refuses it unless GRIDBOT_ALLOW_EXAMPLE=1. Mount your
    # own file and point GRIDBOT_CONFIG at it (README: Running with Docker).
    GRIDBOT_CONFIG=/app/examples/community.toml

# A Chinese font so the monthly report's chart shows 中文 labels, not category codes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Exact versions with hashes first (a layer that changes only with the lock file), then the code.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
# `gridbot demo` only: the Bot API emulator and the demo's stage (the bot never imports them)
COPY tgsandbox ./tgsandbox
COPY gridbot_demo ./gridbot_demo
COPY examples ./examples
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app gridbot \
    && mkdir -p /data \
    # build jieba's dictionary cache now (it lands in /tmp, readable at run time)
    && python -c "from bot.nlp import Classifier; Classifier.load()" \
    && chown -R gridbot /data

USER gridbot
VOLUME ["/data"]
# Healthy: the database is readable and the bot's scheduler wrote its heartbeat lately.
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 \
    CMD ["gridbot", "health"]
CMD ["gridbot", "run"]
