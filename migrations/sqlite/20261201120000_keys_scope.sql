-- Registering and revoking signing keys now needs the `keys` scope. Tokens that carried
-- every scope there was (what `registry user add` and `token create` without `--scope`
-- make) get it too, so they keep managing their user's keys; narrower tokens, which until
-- now could as well, no longer can.
UPDATE tokens SET scopes = scopes || ',keys'
WHERE instr(',' || scopes || ',', ',publish-new,') > 0
  AND instr(',' || scopes || ',', ',publish-update,') > 0
  AND instr(',' || scopes || ',', ',yank,') > 0
  AND instr(',' || scopes || ',', ',owners,') > 0
  AND instr(',' || scopes || ',', ',keys,') = 0;
