// Tap.java -- what both JDBC driver programs of the driver matrix share: their command line,
// TAP-like output (one "ok N - case" or "not ok N - case" line per case, "# " lines saying
// why, "1..N" at the end, exit 1 on any failure), the test values and the concurrent clients.
// A case throws on the first wrong result; the next case runs anyway, on a connection of its
// own.
import java.math.BigDecimal;
import java.security.MessageDigest;
import java.sql.SQLException;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

final class Tap {
    static final String TEXT = "grüße, 東京, ✓ naïve";
    static final long BIGINT = 9007199254740993L; // 2^53 + 1: wrong if it goes through a double
    static final BigDecimal NUMERIC = new BigDecimal("12345678.901234");
    static final LocalDateTime TIMESTAMP = LocalDateTime.of(2024, 2, 29, 13, 45, 56, 123456000);
    static final byte[] BYTES = new byte[1024];
    static final int CLIENTS = 12; // concurrent connections on a pool of 3 servers
    // In session mode the last of them wait for a server through the first ones' whole work:
    // the drivers' connect timeouts (90 s) allow for a slow machine.
    // Each concurrent transaction stores a 64 KiB value: a statement bigger than a pooler's
    // I/O buffer (weir's are 32 KiB) that arrives while its client waits for a server.
    static final byte[] BLOB = new byte[65536];
    static final int TXNS = 5; // transactions each
    static final int ROWS = 50000; // rows of the large result
    // The large value: TEXT repeated by the server to 5 MB (a result bigger than any buffer),
    // and a 1 MiB parameter the server hashes.
    static final int BIG_REPEAT =
            5 * 1024 * 1024 / TEXT.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1;
    static final String BIG_TEXT = TEXT.repeat(BIG_REPEAT);
    static final int UPLOAD = 1024 * 1024;

    static {
        for (int i = 0; i < BYTES.length; i++) BYTES[i] = (byte) i;
        for (int i = 0; i < BLOB.length; i++) BLOB[i] = (byte) i;
    }

    interface Case { void run() throws Exception; }

    interface Client { void run(int k, Barrier b) throws Exception; }

    /**
     * A barrier for n threads with a bound (60 s) that a failing client breaks for good, so
     * that no other client waits for one that will never come.
     */
    static final class Barrier {
        private final int n;
        private int count, generation;
        private boolean broken;

        Barrier(int n) { this.n = n; }

        synchronized void await() throws Exception {
            if (n <= 1) return;
            if (broken) throw new BrokenBarrierException();
            int gen = generation;
            if (++count == n) {
                count = 0;
                generation++;
                notifyAll();
                return;
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (gen == generation && !broken) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    abort();
                    throw new TimeoutException("barrier: not all clients came within 60 s");
                }
                wait(TimeUnit.NANOSECONDS.toMillis(left) + 1);
            }
            if (gen == generation) throw new BrokenBarrierException();
        }

        synchronized void abort() {
            broken = true;
            notifyAll();
        }
    }

    final String host, user, password, db, mode;
    final int port;
    private int n, failed;

    Tap(String[] a) {
        if (a.length != 6 || !(a[5].equals("session") || a[5].equals("transaction"))) {
            System.err.println("usage: HOST PORT USER PASSWORD DBNAME session|transaction");
            System.exit(2);
        }
        host = a[0];
        port = Integer.parseInt(a[1]);
        user = a[2];
        password = a[3];
        db = a[4];
        mode = a[5];
    }

    boolean txn() { return mode.equals("transaction"); }

    void run(String name, Case c) {
        n++;
        long t0 = System.nanoTime();
        try {
            c.run();
            System.out.printf("ok %d - %s (%.2f s)%n", n, name, (System.nanoTime() - t0) / 1e9);
        } catch (Throwable e) {
            failed++;
            System.out.printf("not ok %d - %s (%.2f s)%n", n, name, (System.nanoTime() - t0) / 1e9);
            String[] lines = (e.getClass().getSimpleName() + ": " + e.getMessage()).split("\n");
            for (int i = 0; i < lines.length && i < 10; i++) System.out.println("#   " + lines[i]);
            StackTraceElement[] st = e.getStackTrace();
            for (int i = 0; i < st.length && i < 4; i++) System.out.println("#       at " + st[i]);
        }
        System.out.flush();
    }

    void done() {
        System.out.println("1.." + n);
        System.out.flush();
        System.exit(failed > 0 ? 1 : 0);
    }

    /**
     * Runs client(k) for k < CLIENTS on threads of their own. In transaction mode the clients
     * get a barrier to wait on after connecting and before closing (so twelve open connections
     * share three servers); in session mode one that never waits. Throws the first real error.
     */
    void concurrently(Client client) throws Exception {
        Barrier b = new Barrier(txn() ? CLIENTS : 1);
        List<String> errs = new ArrayList<>();
        List<Thread> ths = new ArrayList<>();
        for (int k = 0; k < CLIENTS; k++) {
            final int kk = k;
            Thread t = new Thread(() -> {
                try {
                    client.run(kk, b);
                } catch (Throwable e) {
                    b.abort();
                    synchronized (errs) {
                        errs.add("client " + kk + ": " + brief(e));
                    }
                }
            });
            t.start();
            ths.add(t);
        }
        for (Thread t : ths) t.join(90000);
        for (Thread t : ths) check(!t.isAlive(), "clients still running after 90 s");
        List<String> real = new ArrayList<>();
        for (String e : errs)
            if (!e.contains("BrokenBarrier")) real.add(e);
        List<String> show = real.isEmpty() ? errs : real;
        check(errs.isEmpty(), String.join("; ", show.subList(0, Math.min(3, show.size()))));
    }

    static String brief(Throwable e) {
        String code = e instanceof SQLException ? ((SQLException) e).getSQLState() + " " : "";
        String m = String.valueOf(e.getMessage()).split("\n")[0];
        return e.getClass().getSimpleName() + ": " + code + m;
    }

    static void check(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    static void eq(Object got, Object want, String what) {
        boolean same = got instanceof byte[] && want instanceof byte[]
                ? Arrays.equals((byte[]) got, (byte[]) want) : Objects.equals(got, want);
        check(same, what + ": got " + show(got) + ", want " + show(want));
    }

    static String show(Object o) {
        if (o instanceof byte[]) return "byte[" + ((byte[]) o).length + "]";
        return o == null ? "null" : o + " (" + o.getClass().getSimpleName() + ")";
    }

    /** fails(code, what, case): the case must fail with an SQLException of that SQLSTATE. */
    static void fails(String state, String what, Case c) {
        try {
            c.run();
        } catch (SQLException e) {
            check(state.equals(e.getSQLState()), what + ": got " + brief(e) + ", want " + state);
            return;
        } catch (Exception e) {
            throw new AssertionError(what + ": got " + brief(e) + ", want " + state);
        }
        throw new AssertionError(what + ": succeeded, want error " + state);
    }

    /** UPLOAD bytes that are not all alike. */
    static byte[] uploadValue() {
        byte[] v = new byte[UPLOAD];
        byte[] chunk = md("SHA-256", "weir".getBytes());
        for (int i = 0; i < UPLOAD; i++) v[i] = chunk[i % chunk.length];
        return v;
    }

    static byte[] md(String alg, byte[] data) {
        try {
            return MessageDigest.getInstance(alg).digest(data);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    static String md5hex(byte[] data) {
        StringBuilder s = new StringBuilder();
        for (byte x : md("MD5", data)) s.append(String.format("%02x", x));
        return s.toString();
    }
}
