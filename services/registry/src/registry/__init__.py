"""The state's catalog and system of record: approved micro-credentials, awards, verifiable
Open Badges 3.0 credentials, renewal credits and endorsements."""
