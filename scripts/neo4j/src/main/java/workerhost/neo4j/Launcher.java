package workerhost.neo4j;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthToken;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Record;
import org.neo4j.driver.Session;
import org.neo4j.driver.exceptions.AuthenticationException;
import org.neo4j.driver.exceptions.ClientException;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.CommunitySecurityModule;
import org.neo4j.server.security.auth.FileUserRepository;

/**
 * Runs an embedded Neo4j Community DBMS with only the Bolt connector open, for worker-host's
 * tests and CI. Started and stopped by scripts/neo4j.sh; see docs/neo4j.md.
 *
 * <p>Flags: --home DIR (required; data, transactions and Neo4j's own logs go under it),
 * --port P (default 7687), --host H (default 127.0.0.1), --no-auth, --pagecache SIZE
 * (default 128m), --ready-file FILE, --pid-file FILE, --conf key=value (repeatable, any Neo4j 5
 * setting; strict validation is on, so a misspelt key fails start-up).
 * The password of user neo4j comes from the environment variable NEO4J_PASSWORD
 * (default worker-host-test; Neo4j requires at least 8 characters).
 *
 * <p>Ready means: the DBMS is up, the neo4j database is available, and a Bolt client has run
 * {@code RETURN 1} with the configured credentials. Then the Bolt URI is printed and written to
 * the ready file. SIGTERM/SIGINT run a shutdown hook that shuts the DBMS down cleanly.
 */
public final class Launcher {
    static final String DEFAULT_PASSWORD = "worker-host-test";
    static final String USER = "neo4j";

    private static final PrintStream OUT = System.out;
    private static final Object LOCK = new Object();
    private static DatabaseManagementService dbmsRef; // guarded by LOCK

    public static void main(String[] args) throws Exception {
        Path home = null;
        Path readyFile = null;
        Path pidFile = null;
        String host = "127.0.0.1";
        int port = 7687;
        boolean auth = true;
        String pagecache = "128m";
        Map<String, String> extra = new LinkedHashMap<>();

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--home" -> home = Path.of(need(args, ++i, a));
                case "--port" -> port = Integer.parseInt(need(args, ++i, a));
                case "--host" -> host = need(args, ++i, a);
                case "--no-auth" -> auth = false;
                case "--pagecache" -> pagecache = need(args, ++i, a);
                case "--ready-file" -> readyFile = Path.of(need(args, ++i, a));
                case "--pid-file" -> pidFile = Path.of(need(args, ++i, a));
                case "--conf" -> {
                    String kv = need(args, ++i, a);
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        die("--conf wants key=value, got: " + kv);
                    }
                    extra.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
                }
                case "-h", "--help" -> {
                    OUT.println("usage: java -jar neo4j-launcher.jar --home DIR [--port P] [--host H] "
                            + "[--no-auth] [--pagecache SIZE] [--ready-file F] [--pid-file F] [--conf k=v]...");
                    return;
                }
                default -> die("unknown argument: " + a);
            }
        }
        if (home == null) {
            die("--home DIR is required");
        }
        String password = System.getenv().getOrDefault("NEO4J_PASSWORD", DEFAULT_PASSWORD);
        if (password.isEmpty()) {
            password = DEFAULT_PASSWORD;
        }
        if (auth && password.length() < 8) {
            die("NEO4J_PASSWORD must have at least 8 characters (Neo4j's minimum)");
        }

        if (pidFile != null) {
            writeAtomically(pidFile, ProcessHandle.current().pid() + "\n");
        }
        if (readyFile != null) {
            Files.deleteIfExists(readyFile);
        }
        Files.createDirectories(home);

        String address = host + ":" + port;
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("server.bolt.enabled", "true");
        cfg.put("server.bolt.listen_address", address);
        cfg.put("server.bolt.advertised_address", address);
        cfg.put("server.bolt.tls_level", "DISABLED");
        cfg.put("server.http.enabled", "false");
        cfg.put("server.https.enabled", "false");
        cfg.put("dbms.security.auth_enabled", Boolean.toString(auth));
        cfg.put("server.memory.pagecache.size", pagecache);
        // A test server: no usage report, no 250 MB transaction-log preallocation.
        cfg.put("dbms.usage_report.enabled", "false");
        cfg.put("db.tx_log.preallocate", "false");
        // Tests may probe wrong passwords; do not lock user neo4j out after 3 failures.
        cfg.put("dbms.security.auth_max_failed_attempts", "0");
        // Netty's default 5 s quiet period (paid twice) makes shutdown take ~11 s; nothing is
        // in flight by then (databases stop before the Bolt server), so skip it.
        cfg.put("internal.dbms.bolt.netty_server_shutdown_quiet_period", "0");
        cfg.putAll(extra);

        long t0 = System.nanoTime();
        log("starting Neo4j (home " + home.toAbsolutePath() + ", bolt " + address + ", auth "
                + (auth ? "on" : "off") + ")");
        // The builder takes raw "key=value" settings only from a file: write one per start.
        Path confFile = home.resolve("neo4j-launcher.conf");
        StringBuilder conf = new StringBuilder("# written by neo4j-launcher at every start\n");
        cfg.forEach((k, v) -> conf.append(k).append('=').append(v).append('\n'));
        writeAtomically(confFile, conf.toString());
        if (auth) {
            seedInitialPassword(home.toAbsolutePath(), confFile, password);
        }
        // Registered before build(): a SIGTERM that arrives while the DBMS starts waits for
        // the start to finish (the lock), then shuts down what was started.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("signal received: shutting Neo4j down");
            long s0 = System.nanoTime();
            try {
                DatabaseManagementService running;
                synchronized (LOCK) {
                    running = dbmsRef;
                }
                if (running == null) {
                    log("no DBMS was started");
                    return;
                }
                running.shutdown();
                log("Neo4j shut down cleanly in " + (System.nanoTime() - s0) / 1_000_000 + " ms");
            } catch (Throwable t) {
                log("shutdown failed: " + t);
                t.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        DatabaseManagementService dbms;
        synchronized (LOCK) {
            dbms = new DatabaseManagementServiceBuilder(home.toAbsolutePath())
                    .loadPropertiesFromFile(confFile)
                    .build();
            dbmsRef = dbms;
        }
        log("DBMS started in " + (System.nanoTime() - t0) / 1_000_000 + " ms");

        try {
            GraphDatabaseService db = dbms.database("neo4j");
            if (!db.isAvailable(TimeUnit.SECONDS.toMillis(60))) {
                throw new IllegalStateException("database neo4j not available after 60 s");
            }
            String uri = "bolt://" + address;
            AuthToken token = auth ? AuthTokens.basic(USER, password) : AuthTokens.none();
            String version;
            try {
                version = boltCheck(uri, token);
            } catch (AuthFailure e) {
                // A data directory from an earlier run with another password (or none set yet).
                log("Bolt login refused (" + e.getMessage() + "): setting the password of user neo4j");
                setPassword(dbms, password);
                version = boltCheck(uri, token);
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            log("Neo4j " + version + " ready in " + ms + " ms");
            OUT.println("BOLT_URI=" + uri);
            OUT.flush();
            if (readyFile != null) {
                writeAtomically(readyFile, uri + "\n");
            }
        } catch (Throwable t) {
            log("start-up failed: " + t);
            t.printStackTrace();
            System.exit(1); // runs the shutdown hook, which shuts the DBMS down
        }

        stopped.await(); // park the main thread; the JVM stays up until a signal arrives
    }

    /**
     * On a fresh home (no system database yet), writes data/dbms/auth.ini the way
     * {@code neo4j-admin dbms set-initial-password} does, so that user neo4j is created with this
     * password and no forced change. About 5 s faster than ALTER USER after start-up.
     */
    private static void seedInitialPassword(Path home, Path confFile, String password) throws Exception {
        Config config = Config.newBuilder()
                .set(GraphDatabaseSettings.neo4j_home, home)
                .fromFile(confFile)
                .build();
        Path systemDb = config.get(GraphDatabaseSettings.data_directory).resolve("databases").resolve("system");
        if (Files.exists(systemDb)) {
            return; // the system graph already holds the users; see setPassword
        }
        Path authIni = CommunitySecurityModule.getInitialUserRepositoryFile(config);
        Files.createDirectories(authIni.getParent());
        Files.deleteIfExists(authIni);
        try (DefaultFileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            FileUserRepository repo = new FileUserRepository(
                    fs, authIni, NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
            repo.start();
            repo.create(new User(USER, null,
                    SystemGraphCredential.createCredentialForPassword(
                            password.getBytes(StandardCharsets.UTF_8), new SecureHasher()),
                    false, false));
            repo.shutdown();
        }
    }

    /** Thrown by boltCheck when the server refuses the credentials (no point in retrying). */
    private static final class AuthFailure extends Exception {
        AuthFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Sets the password of user neo4j and clears the "change required" flag. */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database("system");
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // Re-using a data directory whose password already is this one.
            String msg = String.valueOf(e.getMessage());
            if (!msg.contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    /** Runs RETURN 1 over Bolt (retrying for up to 30 s); returns the server version. */
    private static String boltCheck(String uri, AuthToken token) throws InterruptedException, AuthFailure {
        org.neo4j.driver.Config config = org.neo4j.driver.Config.builder()
                .withoutEncryption()
                .withConnectionTimeout(5, TimeUnit.SECONDS)
                .withMaxConnectionPoolSize(1)
                .build();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try (Driver driver = GraphDatabase.driver(uri, token, config);
                 Session session = driver.session()) {
                long one = session.run("RETURN 1 AS one").single().get("one").asLong();
                if (one != 1) {
                    throw new IllegalStateException("RETURN 1 returned " + one);
                }
                Record r = session.run("CALL dbms.components() YIELD versions, edition "
                        + "RETURN versions[0] AS v, edition AS e").single();
                return r.get("v").asString() + " " + r.get("e").asString();
            } catch (AuthenticationException e) {
                throw new AuthFailure(e.code(), e);
            } catch (ClientException e) {
                if (e.code() != null && e.code().startsWith("Neo.ClientError.Security.")) {
                    throw new AuthFailure(e.code(), e);
                }
                last = e;
                Thread.sleep(250);
            } catch (RuntimeException e) {
                last = e;
                Thread.sleep(250);
            }
        }
        throw new IllegalStateException("Bolt check against " + uri + " failed", last);
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, file.getFileName().toString(), ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String need(String[] args, int i, String flag) {
        if (i >= args.length) {
            die(flag + " needs a value");
        }
        return args[i];
    }

    private static void die(String msg) {
        System.err.println("neo4j-launcher: " + msg);
        System.exit(2);
    }

    private static void log(String msg) {
        OUT.println("[neo4j-launcher " + java.time.LocalTime.now().withNano(0) + "] " + msg);
        OUT.flush();
    }
}
