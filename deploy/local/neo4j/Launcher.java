// Neo4j Community for the local stack: the embeddable DBMS with its Bolt connector.
//
// Run by deploy/local/neo4j.sh with the JDK's single-file source launcher:
//
//   java -Xmx512m -cp 'libs/*' Launcher.java <home-dir> <bolt-port> <page-cache-MiB>
//
// Bolt listens on 127.0.0.1 only, authentication is off, there is no HTTP connector (the
// embedded DBMS has none), and every byte of state lives under <home-dir> (data/, logs/).
// Prints one "neo4j ready" line once the default database answers, then blocks. SIGTERM
// (or Ctrl-C) runs the shutdown hook, which stops the DBMS cleanly: the next start needs
// no recovery.

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

public final class Launcher {
    private static final String HOST = "127.0.0.1";

    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: java Launcher.java <home-dir> <bolt-port> <page-cache-MiB>");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        long pageCacheMiB = Long.parseLong(args[2]);

        SocketAddress bolt = new SocketAddress(HOST, port);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMiB))
                // Keep the transaction logs small: tests and benchmarks rewrite the graph often,
                // and old log files are pruned only at a checkpoint.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64))
                .setConfig(GraphDatabaseSettings.check_point_interval_volume, ByteUnit.mebiBytes(128))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Netty's default quiet periods make a stop take 10 s for nothing.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j stopping");
            dbms.shutdown();
            System.out.println("neo4j stopped");
            System.out.flush();
            stopped.countDown();
        }, "neo4j-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
            System.err.println("neo4j error: the default database did not become available");
            System.exit(1);
        }
        System.out.println("neo4j ready on bolt://" + HOST + ":" + port + " (home " + home + ")");
        System.out.flush();
        stopped.await();
    }
}
