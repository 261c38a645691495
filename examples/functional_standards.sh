# The four functional standards of the study into ./standards/ (run from the working directory):
# SGD GO slim (cellular component, biological process), KEGG and IntAct complex modules of BIONIC/ICoN.
# Files already in the directory are used as they are. Sourced by real_wt2_gpu.sh and real_chong_gpu.sh.
[ -f go_slim_mapping.tab ] || curl -fLO https://downloads.yeastgenome.org/curation/literature/go_slim_mapping.tab
ICON=https://raw.githubusercontent.com/Murali-group/ICoN/main/eval/standards/module-detection
[ -f yeast-KEGG-pathway-modules.json ] || curl -fLO "$ICON/yeast-KEGG-pathway-modules.json"
[ -f yeast-IntAct-complex-modules.json ] || curl -fLO "$ICON/yeast-IntAct-complex-modules.json"
mkdir -p standards
deeploc-keras standards build --from sgd-slim go_slim_mapping.tab --aspect C --out standards/cellular_component.gmt --overwrite
deeploc-keras standards build --from sgd-slim go_slim_mapping.tab --aspect P --out standards/bioprocess.gmt --overwrite
deeploc-keras standards build --from modules-json yeast-KEGG-pathway-modules.json --out standards/pathway.gmt --overwrite
deeploc-keras standards build --from modules-json yeast-IntAct-complex-modules.json --out standards/complex.gmt --overwrite
