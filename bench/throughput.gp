# Throughput against RTT for window sizes 1 to 5, each beside its ceiling (docs/performance.md).
#   gnuplot -e "dat='throughput.dat'; out='throughput.svg'" bench/throughput.gp
# Columns of dat: rtt_ms, stop-and-wait and its ceiling, then window 1..5 and theirs.
set terminal svg size 900,560 dynamic enhanced font 'sans,12' background rgb 'white'
set output out
set title "qmtkit publish throughput, virtual time (115200 baud, 256 B payload, QoS 1)"
set xlabel "network round trip (ms)"
set ylabel "messages per second"
set logscale xy
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key outside right top box opaque
set xrange [15:4000]
set style line 1 lw 1.5 lc rgb '#1b9e77' pt 7 ps 0.8
set style line 2 lw 1.5 lc rgb '#d95f02' pt 7 ps 0.8
set style line 3 lw 1.5 lc rgb '#7570b3' pt 7 ps 0.8
set style line 4 lw 1.5 lc rgb '#e7298a' pt 7 ps 0.8
set style line 5 lw 1.5 lc rgb '#66a61e' pt 7 ps 0.8
set style line 9 lc rgb '#000000' lw 1 pt 6 ps 1.4
# The ceilings wide and pale underneath, the achieved rates on top: where they part, the rules
# allow more than the run got.
array pale[5] = ['#a4d8c9', '#f0bf9a', '#c8c6e1', '#f5a9d0', '#c2dba5']
plot for [w=1:5] dat using 1:(column(3 + 2*w)) with lines lw 7 lc rgb pale[w] title sprintf("ceiling, window %d", w), \
     for [w=1:5] dat using 1:(column(2 + 2*w)) with linespoints ls w title sprintf("window %d", w), \
     dat using 1:2 with points ls 9 title "stop-and-wait"
