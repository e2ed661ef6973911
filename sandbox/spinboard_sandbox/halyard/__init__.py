"""A stand-in for ``hal`` (the halyard CLI and its daemon) on the sandbox's Minnaker.

Run it where the SSM document runs ``kubectl -n spinnaker exec -i halyard-0 -- hal``::

    python -m spinboard_sandbox.halyard_simulator [--halconfig PATH] [--apply-log PATH]
        [--fail OP[:NAME][,...]] [--fail-apply] [--apply-delay SECONDS] [--call-log PATH]
        [--control PATH] [--] <hal arguments>

Every behaviour is written from the sources named in ``docs/fidelity.md`` (spinnaker/halyard at
23e66d69, JCommander 1.81 and commons-text 1.10.0, the versions halyard-cli builds with):

- the command line is parsed as JCommander 1.81 parses halyard's command classes: ``=`` or a
  space separates a value, an option name is recognised by prefix, ``--regions a,b`` and
  ``--regions a b`` both work (variable arity, comma splitter), a word that is no option lands
  in the main parameter (the account name), repeated value options, missing required options
  (``--account-id``/``--assume-role`` of ``add``), unknown words: JCommander's message on stderr,
  exit 1 (``Main``);
- the global options of ``NestableCommand`` (``-h -o -d -a -q -l -c --options
  --daemon-endpoint``), ``--no-validate``/``--deployment`` of ``AbstractConfigCommand`` and the
  options of ``deploy apply`` (``ApplyDeployCommand``, ``AbstractRemoteActionCommand``);
- output as ``AnsiUi``/``AnsiPrinter``/``AnsiParagraphBuilder`` print it: colour on by default
  (``-q`` or ``--color false`` turn it off), every snippet followed by a reset code, paragraphs
  wrapped at 80 columns by ``WordUtils.wrap`` with the escape codes counted in the width and
  continuation lines indented by two spaces; task progress (``ResponseUnwrapper``, one frame per
  400 ms poll) and success lines on stdout unless ``-q``; problems, errors and failures on
  stderr; exit codes of ``NestableCommand.safeExecuteThis`` (1 daemon failure, 3 unexpected,
  7 task killed);
- the daemon's semantics (``AccountService``, ``ProviderService``, ``GenericUpdateRequest``,
  ``DaemonResponse``, the validators): ``add`` appends and then validates, so a name used by any
  provider fails with ``Account "NAME" appears more than once`` and nothing is written;
  ``edit``/``get`` of a missing account: ``No account with name "NAME" was found``; ``delete``:
  ``Account "NAME" wasn't found``; ``edit`` that changes nothing prints ``- No changes
  supplied.`` on stderr, exits 0 and writes nothing; ``primaryAccount`` follows
  ``Provider.getPrimaryAccount``;
- the halconfig written as ``HalconfigParser`` writes it (Jackson NON_NULL, the field order of
  the model classes, SnakeYAML block style); an ``awsAccount``'s ``providerVersion`` from older
  files is ignored (``@JsonIgnoreProperties``), unknown fields fail like ``StrictObjectMapper``.

Halyard has no lock: each daemon task reads the halconfig when it starts and writes it when it
ends, so concurrent ``hal`` calls lose updates here as they do on Minnaker. Writes replace the
file atomically (halyard's ``AtomicFileWriter``).

Time. Each call sleeps, multiplied by ``HALYARD_SIM_TIME_SCALE`` (default 1.0; the sandbox passes
its SANDBOX_TIME_SCALE):

- ``HALYARD_SIM_JVM_SECONDS`` (default 2.0) once per call: the CLI is a fresh JVM that loads
  JCommander, Jackson, Retrofit and every command class before it parses anything;
- ``HALYARD_SIM_VALIDATE_SECONDS`` (default 2.0) per daemon task that validates (every config
  command and the deploy's prep step, none with ``--no-validate``): validation always runs the
  ``HalconfigValidator`` and ``DeploymentConfigurationValidator``, which read ``versions.yml``
  and the bill of materials from the config bucket, while the AWS account validator only
  checks lifecycle hooks (it calls no AWS API), so the cost does not grow with the accounts;
- ``HALYARD_SIM_MANIFEST_SECONDS`` (default 20) for ``deploy apply`` to generate the profiles
  and ``kubectl apply`` every service (``KubectlDeployer``): where it returns without
  ``--wait-for-completion``;
- ``HALYARD_SIM_APPLY_SECONDS`` (default 60) for the whole apply with
  ``--wait-for-completion``: every service polled every 5 s until ready (clouddriver restarts).

``deploy apply`` appends one JSON line to the apply log: ``time`` (when the new configuration is
live in clouddriver: when ``hal`` returns with ``--wait-for-completion``, later without it),
``deployment``, ``enabled`` (the aws provider), ``accounts`` (aws account names) and
``awsAccounts`` (``name``, ``accountId``, ``assumeRole``, ``regions``, ``environment``,
``accountType``; null where halyard has no value; halyard has no ``accountType``).

Test controls. Each option may come from the environment instead: ``HALYARD_SIM_HALCONFIG``,
``HALYARD_SIM_APPLY_LOG`` (default ``apply.log`` next to the halconfig), ``HALYARD_SIM_FAIL``,
``HALYARD_SIM_DELAY``, ``HALYARD_SIM_CALL_LOG``, ``HALYARD_SIM_CONTROL``. ``OP`` is one of
``account-add``, ``account-edit``, ``account-delete``, ``account-get``, ``provider-enable``,
``deploy-apply``; with ``:NAME`` only calls about that account fail. An injected failure is a
failed daemon task with a problem halyard reports (an unwritable halconfig, a manifest kubectl
could not apply), printed the way halyard prints it, exit 1. The control file, read again on
every call, adds failures and delays while the sandbox runs:
``{"fail": ["deploy-apply", "account-add:aws-x"], "delaySeconds": {"deploy-apply": 5}}``; a delay
(unscaled, per ``OP`` or ``OP:NAME``; ``HALYARD_SIM_DELAY`` is the one of ``deploy-apply``) is
slept before the call does anything. ``NestableCommand`` prints one of four quips before 5% of
daemon failures; ``HALYARD_SIM_QUIP_PERCENT`` (default 5) sets that share.

The package follows halyard by concern, each module naming the halyard sources it follows:
``java`` (Java's hashing, splitting and ``WordUtils.wrap``), ``ansi`` (the ANSI printers),
``failures`` (exit codes and exceptions), ``command_line`` (JCommander and the command classes,
options and help texts), ``problems``, ``halconfig`` (the model and its JSON/YAML rendering),
``timing``, ``daemon`` (validation, tasks, the account and provider services), ``deploy``
(``deploy apply``), ``accounts`` (the AWS account commands), ``cli`` (one ``hal`` process),
``apply_log``, ``control`` (the simulator's own options and control file) and ``program`` (the
entry point). ``spinboard_sandbox.halyard_simulator`` re-exports what other code uses and is what
runs as a program.
"""
