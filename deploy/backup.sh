#!/bin/sh
# Nightly backup of ЦУР Монитор: the database (pg_dump, custom format) and the model registry.
# cron: 30 2 * * *  cur  /opt/cur-monitor/deploy/backup.sh /var/backups/cur-monitor
set -eu
DEST=${1:-/var/backups/cur-monitor}
MODELS=${CUR_MODELS_DIR:-/var/lib/cur-monitor/models}
STAMP=$(date +%Y-%m-%d_%H%M)
mkdir -p "$DEST"
# the connection from CUR_DATABASE_URL (postgresql://user:password@host:port/db) works as pg_dump's dbname
pg_dump --dbname="${CUR_DATABASE_URL:?set CUR_DATABASE_URL}" --format=custom --file="$DEST/cur-$STAMP.dump"
tar -C "$MODELS" -czf "$DEST/models-$STAMP.tar.gz" ACTIVE registry.json versions
# keep 14 days
find "$DEST" -name 'cur-*.dump' -mtime +14 -delete
find "$DEST" -name 'models-*.tar.gz' -mtime +14 -delete
echo "backup: $DEST/cur-$STAMP.dump $DEST/models-$STAMP.tar.gz"
