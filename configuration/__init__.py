"""Configuration as code (docs/operations.md, "Configuration as code"): sources, destinations,
mappings, table sources, transformation libraries and transformations as one JSON document.

An app of its own because it speaks for three: it writes ingest's sources, tables' table
sources and the destinations app's destinations, mappings and transformations, and none of
them may know of the others (the import contracts say so). Inside `destinations` it made one
app reach into two; in `project`, the wiring, apps would have had to import the wiring for
its commands. Nothing imports it but its two commands, import_config and export_config.

`export_configuration()` builds the document and `render_configuration()` writes it: two-space
indent, keys in the order below, settings and fields sorted, items sorted by name, a trailing
newline. `import_configuration()` applies one, in one transaction::

    {
      "version": 1,
      "sources": [
        {"name": "Web", "enabled": true, "rate_limit": null,
         "write_key": {"env": "SWITCHYARD_SOURCE_WEB_WRITE_KEY"}, "transformations": []}
      ],
      "destinations": [
        {
          "name": "Metronome billing", "kind": "metronome", "enabled": true,
          "sources": ["Web"],
          "settings": {"base_url": "https://api.metronome.com"},
          "secrets": {"api_token": {"env": "SWITCHYARD_METRONOME_BILLING_API_TOKEN"}},
          "transformations": ["Drop test users"],
          "mappings": [
            {"name": "Send track events", "action": "send_event", "trigger": "type = \\"track\\"",
             "enabled": true, "batch_size": null, "flush_interval": 1.0, "fields": {...}}
          ]
        }
      ],
      "table_sources": [
        {"name": "Sales predictions", "source": "Warehouse",
         "connection": {"env": "SWITCHYARD_TABLE_SOURCE_SALES_PREDICTIONS_URL"},
         "table": "ml.customer_scores", "query": "", "key_columns": "customer_id",
         "identity_column": "email", "identity": "userId", "emit": "track",
         "event_name": "Sales Prediction", "columns": "", "timestamp_column": "scored_at",
         "changes": "added_changed", "emit_deleted": false, "schedule_minutes": 60,
         "timeout_seconds": 300, "enabled": true}
      ],
      "transformation_libraries": [
        {"name": "PII tools", "description": "",
         "code": "export function mask(text) {\n  ...\n}\n"}
      ],
      "transformations": [
        {"name": "Drop test users", "description": "",
         "code": "export function transformEvent(event) {\\n  ...\\n}\\n"}
      ]
    }

Required keys: a source's `name`; a destination's `name` and `kind`; a mapping's `name`,
`action`, `trigger` and `fields`; a table source's `name`, `source` (a source of the document
or of the database), `key_columns` and `identity_column`; a library's and a transformation's
`name` and `code`. Other keys may be left out: enabled is true, rate_limit (events a second,
null for the SOURCE_RATE_LIMIT setting) and batch_size null, flush_interval 1.0, sources,
settings, mappings and a library's or transformation's description empty, and a table
source's columns take the model's defaults. Unknown keys are errors.

A transformation's `code` is its current version's JavaScript, exactly. Importing other code
saves a new version (by "config"); the same code saves none; code that cannot load stops the
import with the transformation's name and the line. A source's or destination's
`transformations` names, in the order they run, transformations of the document or of the
database; its chain becomes the file's, and leaving the key out keeps the stored chain (a file
older than transformations must not take a PII filter off).

A library's `code` is what transformations import as its name in camelCase (`import { mask }
from "piiTools"`). Libraries are imported before transformations, whose code is checked
against them; other code or description saves the library (by "config"), which gives each
transformation importing it a new version; code that cannot load, or that an importer's code
no longer loads with, stops the import with the library's name. A library refused for an
importer the file also changes is tried again after the transformations (libraries.py).

Secrets are never written in clear: the export names, for every secret setting of the kind,
the variable `SWITCHYARD_<DESTINATION NAME>_<SETTING KEY>`: upper case, each run of other
characters than A-Z and 0-9 turned into `_`, accents dropped (a name left with nothing becomes
`X` and 8 hex digits of its SHA-256). Two secrets deriving the same variable stop the export:
rename one. Import reads the variables the file names, whatever they are: a set one gives the
value; an unset (or empty) one, or a secret the file leaves out, keeps the stored value, and
is an error when a required secret would stay empty (a new destination, typically). A
destination the file sends to an origin it did not send to (a base URL or endpoint on another
scheme, host or port, a mapping URL on a new host: services.secret_origins) keeps only the
secrets the file gives values for; the stored others are cleared, and a note names their
variables. Export never decrypts anything.

A table source's connection URL holds the database's password: it is always
`{"env": "SWITCHYARD_TABLE_SOURCE_<TABLE SOURCE NAME>_URL"}`, read like a destination's secret
(required for a new table source, kept when the variable is unset), and its value must be a
URL some connector reads (tables.connectors).

Write keys are credentials too (anyone holding one can send events, usage that gets billed
for instance), so by default they are `{"env": "SWITCHYARD_SOURCE_<SOURCE NAME>_WRITE_KEY"}`;
with `include_write_keys` they are written in clear, to move an installation as it is. On
import a write key from the file or a set variable replaces the stored one (the old key stops
working); an unset variable keeps it, and gives a new source a random key (and a note).

Import upserts sources, destinations, table sources, libraries and transformations by name and
mappings by (destination, name); a destination's source links become the file's. It never adds
preset mappings, never deletes sources or destinations (their events and deliveries would go
with them), and deletes only with `prune`: the mappings of a listed destination that the file
does not list (with their deliveries); when the file has a "table_sources" section, the table
sources it does not list (with their runs and row states; their events stay); when it has a
"transformations" section, the transformations it does not list (with their versions), but one
that a source or destination still runs once the file's chains are set stops the import
instead; when it has a "transformation_libraries" section, the libraries it does not list, but
one that a transformation still imports once the file's transformations are in (and pruned)
stops the import instead. A destination cannot change kind. An item equal to its row is not
written at all (secrets are compared decrypted), so importing twice writes nothing. The first
problem stops the import and rolls it back, naming its place:
`destinations[0].mappings[1].trigger`.
"""
